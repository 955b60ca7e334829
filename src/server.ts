/**
 * The HTTP surface: POST /api/messages (Bot Framework), GET /healthz. restify 11.
 */
import restify from 'restify';
import type { Logger } from './log';
import { refuseMalformedActivity } from './teams/activity-schema';

export interface ServerOptions {
  /** Hands one incoming Bot Framework request to the adapter. */
  processActivity: (req: restify.Request, res: restify.Response) => Promise<void>;
  logger: Logger;
  /** Largest accepted request body; Teams activities are far smaller. */
  maxBodyBytes?: number;
  /** Extra details for /healthz (e.g. the mode). */
  health?: () => Record<string, unknown>;
  /** Registers more routes (e.g. the consent pages) after the built-in ones. */
  routes?: (server: restify.Server) => void;
}

const DEFAULTS = { maxBodyBytes: 256 * 1024 };

export function createServer(options: ServerOptions): restify.Server {
  const logger = options.logger;
  const server = restify.createServer({ name: 'elevation-bot', handleUncaughtExceptions: false });
  server.use(
    restify.plugins.bodyParser({
      maxBodySize: options.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
      mapParams: false,
    }),
  );

  server.post('/api/messages', async (req, res) => {
    // Checked before botbuilder reads it (src/teams/activity-schema.ts): a malformed activity
    // gets a 400 in the shape its sender reads, never a TypeError inside a turn.
    const refused = refuseMalformedActivity(req.body);
    if (refused) {
      res.send(refused.status, refused.body);
      return;
    }
    try {
      await options.processActivity(req, res);
    } catch (error) {
      // botbuilder throws on activities of the wrong shape; the sender gets a 400, not a stack.
      logger.warn('rejected an activity', { error });
      if (!res.headersSent) res.send(400, { error: 'The activity could not be processed.' });
    }
  });

  server.get('/healthz', async (_req, res) => {
    res.send(200, { status: 'ok', ...(options.health?.() ?? {}) });
  });
  options.routes?.(server);

  server.on(
    'restifyError',
    (
      req: restify.Request,
      _res: restify.Response,
      error: Error & { statusCode?: number },
      callback: () => void,
    ) => {
      // Probes (HEAD, GET of /api/messages) are routine; other refusals are worth a warning.
      const level = error.statusCode === 404 || error.statusCode === 405 ? 'debug' : 'warn';
      logger[level]('request refused', {
        method: req.method,
        path: req.path(),
        status: error.statusCode,
        error: error.message,
      });
      callback();
    },
  );
  return server;
}

export function listen(server: restify.Server, port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      const address = server.address();
      resolve(`http://${host.includes(':') ? `[${host}]` : host}:${address.port}`);
    });
  });
}
