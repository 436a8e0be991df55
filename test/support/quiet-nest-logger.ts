import { Logger } from '@nestjs/common';

/**
 * Every suite starts with Nest's default logger printing errors only. Suites that build services without
 * an application (no LOG_LEVEL, no pino) would otherwise print every level to the console: Redis reconnect
 * DEBUG lines, and the warnings of an outage a suite provokes on purpose, read as if something broke. Real
 * errors stay visible. A gateway a suite starts replaces this logger with its own (LOG_LEVEL), as
 * `createGateway` does, and a suite that captures logs installs its own logger as before.
 */
Logger.overrideLogger(['error', 'fatal']);
