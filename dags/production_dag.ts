import { dag } from "gust";

/** The classic first DAG: runs daily and logs one line. */
export default dag({
  id: "production_dag",
  description: "Logs one line every day",
  schedule: "@daily",
  startDate: "2024-01-01",
  catchup: false,
  tags: ["example"],
}, (t) => {
  t.task("print_message", () => {
    console.log("Production DAG running");
  });
});
