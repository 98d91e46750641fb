/**
 * One protocol step per event-loop turn, across every participant of a process. A process that hosts
 * many participants (a simulation, a gateway for many devices, the main job's worker threads with
 * fifty clients each) receives a stage's frames for all of them at once; run as they arrive, their
 * steps (each an O(n) key agreement and Shamir split, or a full-length masking pass) would follow
 * one another without a break, and for that whole time no timer fires and no socket is read — not
 * even a keepalive ping, which grpc-js then takes for a dead connection. Steps taken here run one
 * per turn (`setImmediate`), so between any two the loop reads its sockets and runs its timers: the
 * longest stall is one step, however many participants share the process.
 * @module
 */

let tail: Promise<unknown> = Promise.resolve();

/**
 * Runs `step` in a later event-loop turn, after every step queued before it, alone in its turn.
 * @returns what `step` returns (or its error)
 */
export function takeTurn<T>(step: () => T): Promise<T> {
  const turn = tail.then(
    () =>
      new Promise<T>((resolve, reject) => {
        // Scheduled from the previous step's turn, this runs in the next one: I/O and timers between.
        setImmediate(() => {
          try {
            resolve(step());
          } catch (error) {
            reject(error);
          }
        });
      }),
  );
  tail = turn.catch(() => undefined);
  return turn;
}
