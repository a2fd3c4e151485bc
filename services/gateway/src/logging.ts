// The gateway's log writer: JSON lines without request bodies, variables, GraphQL documents or
// secrets, whatever Hive Gateway, a plugin or our own code puts into a log record. Redaction
// happens here, at the one place every record passes, not by convention at each call site.
import {
  type Attributes,
  JSONLogWriter,
  type LogLevel,
  type LogWriter,
} from '@graphql-hive/gateway';

/** Keys whose values are request or response bodies, variables or documents: left out. */
const DROPPED_KEY = /^(body|query|variables|document|rawBody)$/i;
/** Keys whose values are secrets (the same rule as the Python services' log formatter). */
const SECRET_KEY = /pass(word)?|secret|token|authori[sz]ation|cookie|api_?key|credential/i;
const SECRET_NAME = String.raw`[\w-]*(?:pass(?:word)?|secret|token|authori[sz]ation|cookie|api_?key|credential)[\w-]*`;
/**
 * A secret-named key and its value inside free text: JSON (`"password":"…"`, also escaped once
 * as `\"password\":\"…\"`), GraphQL (`password: "…"`), query strings (`token=…`) and headers
 * (`authorization: Bearer …`).
 */
const SECRET_IN_TEXT = new RegExp(
  String.raw`((\\*["']?)(?<![\w-])${SECRET_NAME}\2\s*[:=]\s*)` +
    String.raw`(\\+"(?:(?!\\+").)*(?:\\+")?|"(?:\\.|[^"\\])*"?|'(?:\\.|[^'\\])*'?|(?:Bearer|Basic)\s+[^\s,;"'&{}]+|[^\s,;"'&{}\[\]]+)`,
  'gi',
);
/** A compact JWS (an access token) anywhere in text. */
const JWT_IN_TEXT = /\beyJ[\w-]+\.[\w-]+\.[\w-]*/g;
/** Credentials in URLs (`scheme://user:password@host`). */
const URL_CREDENTIALS = /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/)[^/@\s:]+:[^/@\s]+@/gi;
const REDACTED = '***';
const MAX_DEPTH = 12;

/** Text with secret-named values, tokens and URL credentials replaced by `***`. */
export function redactText(text: string): string {
  return text
    .replace(SECRET_IN_TEXT, (_match, prefix: string, _quote: string, value: string) => {
      const quote = /^\\*["']/.exec(value)?.[0] ?? '';
      return `${prefix}${quote}${REDACTED}${quote}`;
    })
    .replace(JWT_IN_TEXT, REDACTED)
    .replace(URL_CREDENTIALS, `$1${REDACTED}@`);
}

/** A copy of `value` without dropped keys, with secret-named keys and secrets in text redacted. */
export function redactValue(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[…]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1, seen));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (DROPPED_KEY.test(key)) continue;
    copy[key] =
      SECRET_KEY.test(key) && item !== null && item !== undefined
        ? REDACTED
        : redactValue(item, depth + 1, seen);
  }
  return copy;
}

/** Hive Gateway's JSON log lines, redacted. */
export class RedactingJSONLogWriter implements LogWriter {
  readonly #json = new JSONLogWriter();

  write(level: LogLevel, attrs: Attributes | null | undefined, msg: string | null | undefined) {
    return this.#json.write(
      level,
      attrs == null ? attrs : (redactValue(attrs) as Attributes),
      msg == null ? msg : redactText(msg),
    );
  }
}
