import { describe, expect, test } from "bun:test";
import { postCommitStatus } from "./github-status.ts";

const SHA = "c0ffee".padEnd(40, "1");

describe("postCommitStatus", () => {
  test("POST /repos/OWNER/NAME/statuses/SHA with the token, context qdeploy/preview, the URL as target_url", async () => {
    const seen: { url: string; init: RequestInit }[] = [];
    const fetchFn = (async (url: string, init: RequestInit) => (seen.push({ url, init }), new Response("{}", { status: 201 }))) as unknown as typeof fetch;
    await postCommitStatus({ githubApi: "https://ghe.example.com/api/v3" }, "tok-1", { repo: "acme/hello", sha: SHA, state: "success", description: "preview pr-7 is live", url: "https://pr-7.preview.example.com/" }, fetchFn);
    expect(seen[0]!.url).toBe(`https://ghe.example.com/api/v3/repos/acme/hello/statuses/${SHA}`);
    expect((seen[0]!.init.headers as Record<string, string>).authorization).toBe("Bearer tok-1");
    expect(JSON.parse(String(seen[0]!.init.body))).toEqual({ state: "success", context: "qdeploy/preview", description: "preview pr-7 is live", target_url: "https://pr-7.preview.example.com/" });
  });

  test("a refusal names GitHub's answer; a repository or commit that is not one is never sent", async () => {
    const fetchFn = (async () => new Response('{"message":"Bad credentials"}', { status: 401 })) as unknown as typeof fetch;
    const s = { repo: "acme/hello", sha: SHA, state: "pending" as const, description: "deploying" };
    expect(postCommitStatus({ githubApi: "https://api.github.com" }, "t", s, fetchFn)).rejects.toThrow(`GitHub answered 401 to the pending status of c0ffee111111: {"message":"Bad credentials"}`);
    expect(postCommitStatus({ githubApi: "https://api.github.com" }, "t", { ...s, repo: "../../x" }, fetchFn)).rejects.toThrow("is not a repository and commit");
  });
});
