import { dag } from "gust";
import { z } from "zod";

interface Order {
  id: number;
  amount: number;
  currency: string;
}

/**
 * Extract, transform, load, with typed data between the steps: `transform` receives the
 * `Order[]` that `extract` returned, and the compiler checks it.
 */
export const etl = dag({
  id: "example_etl",
  description: "Sums orders per currency, with retries",
  schedule: "0 6 * * *",
  startDate: "2024-01-01",
  tags: ["example", "etl"],
  params: z.object({
    minAmount: z.number().min(0).default(0).describe("Ignore orders below this amount"),
  }),
  defaults: { retries: 2, retryDelay: "1s", retryExponentialBackoff: true, timeout: "1m" },
}, (t) => {
  const extract = t.task("extract", (ctx): Order[] => {
    ctx.log.info(`extracting orders for ${ctx.logicalDate?.toISOString() ?? "a manual run"}`);
    return [
      { id: 1, amount: 120, currency: "EUR" },
      { id: 2, amount: 80, currency: "USD" },
      { id: 3, amount: 45, currency: "EUR" },
    ];
  });

  const transform = t.task("transform", { inputs: { orders: extract } }, (ctx, { orders }) => {
    const totals: Record<string, number> = {};
    for (const order of orders) {
      if (order.amount < ctx.params.minAmount) continue;
      totals[order.currency] = (totals[order.currency] ?? 0) + order.amount;
    }
    return totals;
  });

  t.task("load", { inputs: { totals: transform } }, (ctx, { totals }) => {
    for (const [currency, total] of Object.entries(totals)) {
      ctx.log.info(`${currency}: ${total.toFixed(2)}`);
    }
    return Object.keys(totals).length;
  });
});
