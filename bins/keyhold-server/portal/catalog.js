// The catalogs the portal offers when minting a key. A Rust test parses this file and
// compares both lists with the server's, so each stays one array literal of plain values.

// Expiry presets, as in docs/auth-and-tokens.md ("Expiry presets").
export const PRESETS = [
  { value: "15m", label: "15 minutes", goodFor: "CLI smoke tests", seconds: 900 },
  { value: "1h", label: "1 hour", goodFor: "Short automation", seconds: 3600 },
  { value: "8h", label: "8 hours", goodFor: "A full workday", seconds: 28800 },
  { value: "24h", label: "24 hours", goodFor: "Daily rotation", seconds: 86400 },
  { value: "7d", label: "7 days", goodFor: "Temporary integration", seconds: 604800 },
  { value: "30d", label: "30 days", goodFor: "Longer-lived service", seconds: 2592000 },
];

// Every scope a key can carry, in the server's order.
export const SCOPES = [
  "admin",
  "audit:read",
  "connections:read",
  "connections:rotate",
  "connections:use",
  "connections:write",
  "execute:queries",
  "keys:read",
  "keys:revoke",
  "keys:write",
  "read:queries",
];
