import { dag } from "gust";

/** Dynamic task mapping: one `square` instance per number that `numbers` returns. */
export default dag({
  id: "example_mapped",
  description: "Squares a list of numbers in parallel and sums them",
  tags: ["example"],
}, (t) => {
  const numbers = t.task("numbers", () => [1, 2, 3, 4, 5]);
  const square = t.task("square", { expand: { n: numbers } }, (_ctx, { n }) => n * n);
  t.task("total", { inputs: { squares: square } }, (ctx, { squares }) => {
    const sum = squares.reduce((a, b) => a + b, 0);
    ctx.log.info(`sum of squares: ${sum}`);
    return sum;
  });
});
