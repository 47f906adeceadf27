// A real external OAuth2/OpenID provider (panva's oidc-provider 9) for the tests in tests/providers.
//
// Usage: node server.mjs CONFIG.json   (tests/providers/oidc_server.py writes the file and runs this)
//
// Config file (JSON):
// {
//   "port": 54321,                       // listens on 127.0.0.1:<port>; issuer is http://127.0.0.1:<port>
//   "jwks": {"keys": [...]},             // PRIVATE JWKs (with kid, use "sig", alg), the signing keys
//   "clients": [{
//     "client_id": "ext-manager",
//     "client_secret": "...",
//     "token_endpoint_auth_method": "client_secret_basic",  // the default; client_secret_post is the
//                                                           // other choice (either one accepts both)
//     "grant_types": ["client_credentials"],                // the default
//     "scope": "profile:read address:read",                 // scopes it may request; omitted = any
//     "extra_claims": {"roles": ["manager"]}                // merged into its tokens (JWT payload and
//   }],                                                     // introspection answer); cannot override
//                                                           // iss, aud, client_id, scope, exp...
//   "resources": [{
//     "audience": "https://api.tokensvc.test/",  // resource indicator and `aud`; the first is the default
//     "scope": "profile:read banking:read",      // scopes this resource accepts (others are dropped)
//     "format": "jwt",                           // "jwt" (RFC 9068, typ at+jwt) or "opaque" (introspect it)
//     "alg": "RS256",                            // JWT signing alg; needs a key for it in jwks
//     "access_token_ttl": 600                    // seconds
//   }],
//   "exit_with_stdin": false             // true: exit when stdin closes (the parent test process died)
// }
//
// Prints exactly one line `READY <issuer>` on stdout once listening; everything else goes to stderr.
// Exits 0 on SIGTERM/SIGINT. State (tokens) is in memory: a restart forgets opaque tokens.
import { readFileSync } from 'node:fs';

import Provider, { errors } from 'oidc-provider';

// oidc-provider writes its notices with console.info (stdout); keep stdout for the READY line.
console.info = console.error;

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const resources = config.resources ?? [];
const clients = config.clients ?? [];
const extraClaims = new Map(clients.map((c) => [c.client_id, c.extra_claims]));

if (resources.length === 0) throw new Error('config.resources must name at least one resource');

const split = (scope) => (scope ? scope.split(' ').filter(Boolean) : []);
// Scopes known to the provider: a client's `scope` may only list these, and a request for one the
// client does not list is refused with invalid_scope.
const scopes = new Set(['openid', 'offline_access']);
for (const item of [...resources, ...clients]) split(item.scope).forEach((s) => scopes.add(s));

const ttl = (ctx, token) => token.resourceServer?.accessTokenTTL ?? 600;

const provider = new Provider(issuer, {
  jwks: config.jwks,
  scopes: [...scopes],
  // The default (RS256) would make every client invalid when there is no RSA key.
  clientDefaults: { id_token_signed_response_alg: config.jwks.keys[0]?.alg ?? 'RS256' },
  clients: clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    grant_types: c.grant_types ?? ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    ...(c.scope ? { scope: c.scope } : {}),
  })),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Any authenticated (confidential) client may introspect any token.
      allowedPolicy: async (ctx, client) => client.clientAuthMethod !== 'none',
    },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => resources[0].audience,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator) => {
        const resource = resources.find((r) => r.audience === indicator);
        if (!resource) throw new errors.InvalidTarget();
        const format = resource.format ?? 'jwt';
        return {
          audience: resource.audience,
          scope: resource.scope ?? '',
          accessTokenFormat: format,
          accessTokenTTL: resource.access_token_ttl ?? 600,
          ...(format === 'jwt' ? { jwt: { sign: { alg: resource.alg ?? 'RS256' } } } : {}),
        };
      },
    },
  },
  extraTokenClaims: async (ctx, token) => {
    const extra = extraClaims.get(token.clientId);
    return extra ? structuredClone(extra) : undefined;
  },
  ttl: { AccessToken: ttl, ClientCredentials: ttl },
});

provider.on('server_error', (ctx, err) => console.error('server_error', err));

const server = provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});
server.on('error', (err) => {
  console.error(err);
  process.exit(1);
});

const exit = () => process.exit(0);
process.on('SIGTERM', exit);
process.on('SIGINT', exit);
if (config.exit_with_stdin) {
  process.stdin.on('end', exit);
  process.stdin.on('close', exit);
  process.stdin.resume();
}
