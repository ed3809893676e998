/**
 * How many `logs?follow=1` streams the server keeps at once. Each holds one SSH channel per
 * host for as long as its client stays, on the hosts' connections kept for log streams
 * (./deps.ts), so it never takes one that status, push or rollback need; these caps keep
 * that connection from filling, and one client from taking every stream.
 */
import { MAX_CHANNELS } from "../remote/channel-limiter.ts";
import { TooManyError } from "../errors.ts";

/**
 * Per environment: its hosts' log connections have MAX_CHANNELS channels each (the SSH
 * Remote's own limit, under sshd's MaxSessions); a follow beyond them would wait for a
 * channel, silent, instead of being told no.
 */
export const FOLLOWS_PER_ENVIRONMENT = MAX_CHANNELS;

/**
 * Per token (a browser's dashboard tabs share its cookie's): half an environment's, so two
 * clients always fit; and under a browser's 6 connections to one site, so its other requests
 * (the 429 that says so, the next page) still get through.
 */
export const FOLLOWS_PER_TOKEN = 4;

/** What a refused follow is told to wait (Retry-After): streams end only when a client leaves. */
export const FOLLOW_RETRY_AFTER_SEC = 30;

/** The follow streams open now, by environment and by token. */
export class LogStreams {
  private readonly byEnv = new Map<string, number>();
  private readonly byToken = new Map<string, number>();

  /** Counts one more stream of `env` for `token`, or throws TooManyError (429); the function returned gives it back (again is harmless). */
  take(env: string, token: string): () => void {
    if ((this.byToken.get(token) ?? 0) >= FOLLOWS_PER_TOKEN) {
      throw new TooManyError(`token "${token}" already follows ${FOLLOWS_PER_TOKEN} log streams, the most one token may`, "close one (a tab following logs) first", FOLLOW_RETRY_AFTER_SEC);
    }
    if ((this.byEnv.get(env) ?? 0) >= FOLLOWS_PER_ENVIRONMENT) {
      throw new TooManyError(`${env} already has ${FOLLOWS_PER_ENVIRONMENT} log streams following, the most one environment may`, "close one (a tab following logs), or try again later", FOLLOW_RETRY_AFTER_SEC);
    }
    add(this.byEnv, env, 1);
    add(this.byToken, token, 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      add(this.byEnv, env, -1);
      add(this.byToken, token, -1);
    };
  }
}

function add(counts: Map<string, number>, key: string, n: number): void {
  const v = (counts.get(key) ?? 0) + n;
  if (v > 0) counts.set(key, v);
  else counts.delete(key);
}
