/**
 * Dom0's processes. Dom0 services (the toolstack, xenconsoled, xenstored's ring work, backends) do their
 * work as tasks on Dom0's vCPUs, so that work takes virtual time and is charged to Dom0, as the
 * processes of a real Dom0 are. A task is a generator run on a Dom0 vCPU: it computes with
 * `v.compute`/`v.charge`, makes hypercalls, and may block (`yield v.sleepFor(...)`).
 */
import type { VcpuApi, VcpuRequest, WakeReason } from './domain.js';
import { token } from './tokens.js';

/** The body of a Dom0 task. Its return value settles the job. */
export type Dom0TaskBody<T> = (v: VcpuApi) => Generator<VcpuRequest, T, WakeReason>;

/** A submitted task. Settles in virtual time; callbacks run inside the simulation, never from a microtask. */
export interface Dom0Job<T> {
  /** What the task is (`toolstack: create pvh-guest`), for logs and `xeno top`'s process view. */
  readonly name: string;
  readonly state: 'queued' | 'running' | 'done' | 'failed';
  /** The task's return value once `done`. */
  readonly result: T | undefined;
  /** What the task threw once `failed`. */
  readonly error: Error | undefined;
  /** Calls `fn` when the job settles (at once if it has). */
  onSettled(fn: (job: Dom0Job<T>) => void): void;
}

/** A job settled by its owner rather than by a task: a Dom0 process waiting on events (a watch, a timer) without holding a vCPU. */
export interface Dom0Waiter<T> {
  readonly job: Dom0Job<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

/** Runs tasks on Dom0's vCPUs, first come first served, each to completion (a task's blocking call lets others run). */
export interface Dom0Tasks {
  submit<T>(name: string, body: Dom0TaskBody<T>): Dom0Job<T>;
  /** A job that settles when its owner says so (first call wins). */
  waiter<T>(name: string): Dom0Waiter<T>;
  /** A job that has already failed, for requests refused before any work. */
  failed<T>(name: string, error: Error): Dom0Job<T>;
  /** Tasks waiting or running. */
  readonly pending: number;
}
export const Dom0Tasks = token<Dom0Tasks>('Dom0Tasks');
