// A real OpenID provider for oauthcli's tests (oidc-provider, test settings).
//
//   node server.mjs CONFIG.json
//
// CONFIG.json: {"clients": [...client metadata...], "ttl": {...seconds...},
// "events": "/path/events.jsonl" (optional), "exit_with_stdin": true
// (optional: stop when stdin reaches EOF), "dpop": false (optional: no DPoP),
// "dpop_nonce": true (optional: every DPoP proof must carry a nonce of the
// server's), "require_par": true (optional: pushed authorization requests
// only)}. DPoP (RFC 9449, ES256 among others) and PAR (RFC 9126) are on by
// default, as oidc-provider ships them. The server listens on
// 127.0.0.1 only, on a port the system picks, and prints one JSON line,
// {"issuer": "http://127.0.0.1:PORT"}, once it answers. Warnings go to stderr.
//
// Test-only choices, each one a deliberate departure from a safe provider:
// - devInteractions: any login name and any password sign in; the login name
//   is the account id (`sub`).
// - no consent screen: the check that always prompts native clients is
//   removed and `loadExistingGrant` grants whatever scopes/claims are asked.
// - refresh tokens for every client allowed the refresh_token grant, with or
//   without `offline_access`, rotated on every use.
// - every absolute resource indicator (RFC 8707) names a resource server
//   with the scopes `api:read api:write` and opaque tokens (introspectable),
//   except the ones under https://forbidden.example, which get invalid_target.
// - token exchange (RFC 8693), registered as a custom grant: see
//   `tokenExchange` below.
//
// Redirect URIs (oidc-provider 9.13.3, models/client.js): for
// application_type "native" an http loopback redirect URI (127.0.0.1,
// localhost, [::1]) is compared WITHOUT its port (RFC 8252 section 7.3), and
// the port of the registered URI is stripped too, so a native client can
// never be pinned to a port. For application_type "web" the comparison is an
// exact string match, port included, and http loopback URIs are allowed
// (only implicit-flow web clients must use https). Host and path always have
// to match exactly.

import { appendFileSync, readFileSync } from 'node:fs';
import { generateKeyPair, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import { promisify } from 'node:util';

const DEFAULT_TTL = {
  AccessToken: 3600,
  IdToken: 3600,
  RefreshToken: 86400,
  DeviceCode: 600,
  ClientCredentials: 600,
};

function fail(message) {
  process.stderr.write(`server.mjs: ${message}\n`);
  process.exit(2);
}

function readConfig() {
  const path = process.argv[2];
  if (!path) {
    fail('usage: node server.mjs CONFIG.json');
  }
  const config = JSON.parse(readFileSync(path, 'utf8'));
  if (!Array.isArray(config.clients)) {
    fail('CONFIG.json needs a "clients" array');
  }
  return config;
}

// One JSON line per outcome, written synchronously so that a test reading the
// file right after an HTTP answer sees the line.
function eventLogger(path) {
  if (!path) {
    return () => {};
  }
  return (record) => appendFileSync(path, `${JSON.stringify(record)}\n`);
}

function logEvents(provider, log) {
  const clientId = (ctx) => ctx.oidc?.client?.clientId ?? null;

  provider.on('grant.success', (ctx) => log({
    event: 'grant.success',
    grant_type: ctx.oidc.params.grant_type,
    client_id: clientId(ctx),
  }));
  provider.on('grant.error', (ctx, err) => log({
    event: 'grant.error',
    grant_type: ctx.oidc?.params?.grant_type ?? null,
    error: err.error ?? 'server_error',
    client_id: clientId(ctx),
  }));
  provider.on('authorization.success', (ctx) => log({
    event: 'authorization.success',
    response_type: ctx.oidc.params.response_type ?? null,
    client_id: clientId(ctx),
  }));
  provider.on('authorization.error', (ctx, err) => log({
    event: 'authorization.error',
    response_type: ctx.oidc?.params?.response_type ?? null,
    error: err.error ?? 'server_error',
    client_id: clientId(ctx),
  }));
  // oidc-provider has no "revocation.success"; a revoked grant and a failed
  // revocation request are what it reports.
  provider.on('grant.revoked', (ctx) => log({
    event: 'grant.revoked',
    client_id: clientId(ctx),
  }));
  provider.on('revocation.error', (ctx, err) => log({
    event: 'revocation.error',
    error: err.error ?? 'server_error',
    client_id: clientId(ctx),
  }));
  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`server_error on ${ctx.path}: ${err.stack}\n`);
    log({ event: 'server_error', path: ctx.path, client_id: clientId(ctx) });
  });
}

// The built-in pages @import Google fonts; the tests have no internet and a
// real browser must not try to reach it. Strip every external stylesheet.
async function stripExternalResources(ctx, next) {
  await next();
  if (typeof ctx.body === 'string' && ctx.response.is('html')) {
    ctx.body = ctx.body
      .replace(/@import url\(["']?https?:\/\/[^)]*\);?/gu, '')
      .replace(/<link\b[^>]*\bhref=["']?https?:\/\/[^>]*>/gu, '');
  }
}

let ProviderErrors;

// A new RS256 key on every start (RS256 is the default ID token algorithm).
async function signingKeys() {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  return [{ ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256' }];
}

// Resource indicators (RFC 8707): any absolute URI is a resource server of
// the test's, except those under FORBIDDEN_RESOURCE.
const FORBIDDEN_RESOURCE = 'https://forbidden.example';
const RESOURCE_SCOPE = 'api:read api:write';

function resourceServerInfo(_ctx, resource) {
  if (resource.startsWith(FORBIDDEN_RESOURCE)) {
    throw new ProviderErrors.InvalidTarget('this resource is not served here');
  }
  return { scope: RESOURCE_SCOPE, audience: resource, accessTokenFormat: 'opaque' };
}

// Token exchange (RFC 8693) as a custom grant. The subject token is an access
// token this provider issued (a user's, or the calling machine's own; looked
// up in its own store), or an ID token it signed for the calling client. The
// answer is a new opaque access token for the same account (or machine), for
// the `audience` or `resource` asked for (one at most), with the scopes asked
// for that the subject or the resource server has; a requested_token_type
// other than access_token is refused.
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const TOKEN_EXCHANGE_PARAMS = [
  'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type',
  'requested_token_type', 'audience', 'resource', 'scope',
];

async function exchangeSubject(ctx) {
  const { params, provider, client } = ctx.oidc;
  const { InvalidRequest } = ProviderErrors;
  if (params.subject_token_type === ACCESS_TOKEN_TYPE) {
    const token = await provider.AccessToken.find(params.subject_token);
    if (token?.isValid && token.accountId) {
      return { accountId: token.accountId, scope: token.scope };
    }
    // A machine's own token, exchanged by that machine: no account.
    const machine = await provider.ClientCredentials.find(params.subject_token);
    if (machine?.isValid && machine.clientId === client.clientId) {
      return { accountId: undefined, scope: machine.scope };
    }
    throw new InvalidRequest('subject_token is not an active access token');
  }
  if (params.subject_token_type === ID_TOKEN_TYPE) {
    let payload;
    try {
      ({ payload } = await provider.IdToken.validate(params.subject_token, client));
    } catch {
      throw new InvalidRequest('subject_token is not an ID token issued to this client');
    }
    if (payload.exp <= Math.floor(Date.now() / 1000)) {
      throw new InvalidRequest('subject_token has expired');
    }
    return { accountId: payload.sub, scope: undefined };
  }
  throw new InvalidRequest('unsupported subject_token_type');
}

async function tokenExchange(ctx) {
  const { params, provider, client } = ctx.oidc;
  const { InvalidRequest, InvalidTarget } = ProviderErrors;
  for (const name of ['subject_token', 'subject_token_type']) {
    if (!params[name]) {
      throw new InvalidRequest(`missing required parameter '${name}'`);
    }
  }
  if (params.requested_token_type && params.requested_token_type !== ACCESS_TOKEN_TYPE) {
    throw new InvalidRequest('only access tokens are issued by token exchange here');
  }
  const subject = await exchangeSubject(ctx);

  const targets = [params.audience, params.resource].flat().filter(Boolean);
  if (targets.length > 1) {
    throw new InvalidTarget('one audience or resource at most');
  }
  const token = subject.accountId
    ? new provider.AccessToken({ accountId: subject.accountId, client, gty: 'token-exchange' })
    : new provider.ClientCredentials({ client });
  const requested = params.scope ? params.scope.split(' ') : [];
  if (targets.length) {
    const info = resourceServerInfo(ctx, targets[0]);
    token.resourceServer = new provider.ResourceServer(targets[0], info);
    const allowed = new Set(info.scope.split(' '));
    const granted = requested.filter((scope) => allowed.has(scope));
    token.scope = (requested.length ? granted : [...allowed]).join(' ') || undefined;
  } else {
    const had = new Set((subject.scope ?? '').split(' '));
    const kept = requested.filter((scope) => had.has(scope));
    token.scope = (requested.length ? kept.join(' ') : subject.scope) || undefined;
  }
  ctx.oidc.entity(token.kind, token);
  const value = await token.save();
  ctx.body = {
    access_token: value,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: token.expiration,
    scope: token.scope,
  };
}

// DPoP as the test asks: off, on (nonces neither sent nor required), or on
// with a nonce required in every proof (RFC 9449 section 8 and 9).
function dpopFeature(config) {
  if (config.dpop === false) {
    return { enabled: false };
  }
  if (config.dpop_nonce === true) {
    return { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true };
  }
  return { enabled: true };
}

function providerConfiguration(config, interactionPolicy, keys) {
  const policy = interactionPolicy.base();
  policy.get('consent').checks.remove('native_client_prompt');

  return {
    clients: config.clients,
    jwks: { keys },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    ttl: { ...DEFAULT_TTL, ...(config.ttl ?? {}) },

    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    // Scope claims in the ID token too, not only from userinfo.
    conformIdTokenClaims: false,

    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: `${sub}@example.test`,
            email_verified: true,
            preferred_username: sub,
            name: sub,
          };
        },
      };
    },

    interactions: { policy },
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId
        || oidc.session.grantIdFor(oidc.client.clientId);
      const grant = (grantId && await oidc.provider.Grant.find(grantId))
        || new oidc.provider.Grant({
          clientId: oidc.client.clientId,
          accountId: oidc.session.accountId,
        });
      grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
      grant.addOIDCClaims([...oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },

    pkce: { required: () => true },
    async issueRefreshToken(_ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    rotateRefreshToken: true,

    features: {
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: resourceServerInfo,
      },
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      dPoP: dpopFeature(config),
      pushedAuthorizationRequests: {
        enabled: true,
        requirePushedAuthorizationRequests: config.require_par === true,
      },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
  };
}

async function main() {
  // oidc-provider prints its notices with console.info; stdout is reserved
  // for the one line that announces the issuer.
  console.info = console.error;
  console.log = console.error;

  const config = readConfig();
  const server = http.createServer();
  const listening = new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });

  // Key generation runs on the thread pool while oidc-provider loads.
  const keys = signingKeys();
  const { default: Provider, interactionPolicy, errors } = await import('oidc-provider');
  ProviderErrors = errors;
  await listening;
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const configuration = providerConfiguration(config, interactionPolicy, await keys);
  const provider = new Provider(issuer, configuration);
  provider.registerGrantType(TOKEN_EXCHANGE, tokenExchange, TOKEN_EXCHANGE_PARAMS, [
    'audience', 'resource',
  ]);
  provider.use(stripExternalResources);
  logEvents(provider, eventLogger(config.events));
  server.on('request', provider.callback());

  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  if (config.exit_with_stdin) {
    // The test process holds our stdin open; if it dies, EOF stops us too.
    process.stdin.once('end', stop);
    process.stdin.resume();
  }

  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
}

main().catch((err) => fail(err.stack ?? String(err)));
