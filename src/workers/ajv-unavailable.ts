/**
 * Stands in for `ajv` and `ajv-formats` in the Workers bundle (wrangler.toml [alias]). The MCP SDK
 * imports Ajv as its default JSON Schema validator, but this server always passes
 * CfWorkerJsonSchemaValidator (Ajv compiles code, which workerd forbids), so Ajv is never
 * constructed there; aliasing it away keeps ~300 KiB of dead code out of the bundle.
 */
export default class AjvUnavailable {
  constructor() {
    throw new Error('Ajv is not bundled on Workers: pass CfWorkerJsonSchemaValidator as jsonSchemaValidator.');
  }
}
export const Ajv = AjvUnavailable;
