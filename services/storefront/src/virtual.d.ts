declare module 'virtual:persisted-ids' {
  /** Operation name → persisted id (sha256 of the printed document). */
  export const ids: Record<string, string>;
}
