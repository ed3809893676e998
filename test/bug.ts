/**
 * For renderers given what `check` refuses: they assert, and the error is a bug
 * (InternalError), never a user's config problem.
 */
import { expect } from "bun:test";
import { InternalError } from "../src/errors.ts";

/** The message of the InternalError `fn` throws; fails the test when it throws nothing or something else. */
export function bugMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InternalError);
    return (e as Error).message;
  }
  throw new Error("expected an InternalError, but nothing was thrown");
}
