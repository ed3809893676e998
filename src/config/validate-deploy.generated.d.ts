// The types of validate-deploy.generated.js (scripts/write-schema.ts writes it).
import type { ValidateFunction } from "ajv";
import type { RawConfig } from "./types.ts";

declare const validate: ValidateFunction<RawConfig>;
export default validate;
