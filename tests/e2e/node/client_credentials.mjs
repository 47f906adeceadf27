// Discovers the service from its metadata, gets a client_credentials token with openid-client and
// reads one customer page with it. Prints {"token": ..., "status": ..., "body": ...} as JSON.
import fs from 'node:fs';
import * as client from 'openid-client';

const { ISSUER, CLIENT_ID, CLIENT_SECRET, API_KEY } = process.env;

// The API key travels in a header of every request the client makes.
const withApiKey = (url, options) => {
  const headers = new Headers(options.headers);
  headers.set('X-API-Key', API_KEY);
  return fetch(url, { ...options, headers });
};

const config = await client.discovery(new URL(ISSUER), CLIENT_ID, CLIENT_SECRET, undefined, {
  // The test server speaks plain HTTP on loopback.
  execute: [client.allowInsecureRequests],
  algorithm: 'oauth2',
  [client.customFetch]: withApiKey,
});
config[client.customFetch] = withApiKey;

let token;
try {
  token = await client.clientCredentialsGrant(config);
} catch (error) {
  fs.writeSync(1, JSON.stringify({ error: error.code ?? 'error', status: error.status ?? null }) + '\n');
  process.exit(0);
}
const page = await fetch(new URL('/api/v1/customers/?page_size=1', ISSUER), {
  headers: { Authorization: `Bearer ${token.access_token}` },
});
fs.writeSync(1, JSON.stringify({ token, status: page.status, body: await page.json() }) + '\n');
