/**
 * The main job (`npm start`): federated training of a digit classifier across 100 simulated clients
 * over loopback gRPC, with secure aggregation, distributed differential privacy within a budget, and
 * clients dropping out (src/fl/main-job.ts has the embedded defaults). Writes a report folder named
 * on stdout; the last line is `final: accuracy=… epsilon=… delta=… rounds=…`.
 * @module
 */
import { MAIN_JOB, runMainJob } from './fl/main-job.ts';

const reportDir = `privagg-runs/main-${new Date().toISOString().replace(/[:.]/g, '-')}`;
try {
  process.exitCode = await runMainJob(
    MAIN_JOB,
    reportDir,
    'privagg: federated training with secure aggregation and distributed differential privacy',
  );
} catch (error) {
  // One line, not a stack: the wasm backend's handlers would otherwise print its whole source.
  console.error(`privagg: the main job failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
