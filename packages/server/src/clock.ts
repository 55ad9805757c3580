/** Time source, passed in so tests can move it. Epoch milliseconds. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
export const toSeconds = (ms: number): number => Math.floor(ms / 1000);
