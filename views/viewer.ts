/**
 * Who a page is rendered for, through Preact's context: the layout shows their name and the
 * links their role opens, and each control shows only when the role allows its action (the
 * server refuses the action anyway). Rendered without a viewer, a page offers no control.
 */
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { can, type Permission, type UserRole } from "../auth/roles.ts";

export interface Viewer {
  name: string;
  role: UserRole;
  /** A person with a session (not a token): they can log out and change their password. */
  hasSession: boolean;
}

export const ViewerContext = createContext<Viewer | null>(null);

export function useViewer(): Viewer | null {
  return useContext(ViewerContext);
}

/** Whether the viewer's role allows `permission`. */
export function useCan(permission: Permission): boolean {
  const viewer = useContext(ViewerContext);
  return viewer !== null && can(viewer.role, permission);
}
