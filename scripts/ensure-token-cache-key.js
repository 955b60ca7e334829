/**
 * Toolkit provision step: gives the environment a TOKEN_CACHE_KEY once. The key encrypts the
 * sign-ins and token cache the bot keeps in Table storage; it is written to the git-ignored
 * env/.env.<name>.user (SECRET_ values go there) and never changed afterwards, since a new key
 * signs everyone out.
 */
'use strict';
const { randomBytes } = require('node:crypto');

if (!process.env.SECRET_TOKEN_CACHE_KEY) {
  process.stdout.write(
    `::set-teamsfx-env SECRET_TOKEN_CACHE_KEY=${randomBytes(32).toString('base64')}\n`,
  );
}
