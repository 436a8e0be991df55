import 'reflect-metadata';
import type { CanActivate, NestInterceptor } from '@nestjs/common';
import { ApplicationConfig } from '@nestjs/core';
import { of } from 'rxjs';
import { AuthGuard } from '../../auth/auth.guard';
import { GatewayValidationPipe } from '../validation';
import { EdgeReads } from './edge-reads';
import { JsonBodyGuard } from './json-body.guard';
import { ProblemJsonExceptionFilter } from './problem-json.filter';

/**
 * Edge reads run the app-wide enhancers the gateway has (the auth and JSON-body guards, the validation pipe,
 * the problem+json filter) themselves; any other one would be skipped on those routes, so its presence turns
 * edge reads off. Checked on the rule alone, with a real `ApplicationConfig`.
 */
function unknownEnhancerOf(app: ApplicationConfig): string | undefined {
  const edge = Object.create(EdgeReads.prototype) as { appConfig: ApplicationConfig };
  edge.appConfig = app;
  return (edge as unknown as { unknownGlobalEnhancer(): string | undefined }).unknownGlobalEnhancer();
}

function gatewayConfig(): ApplicationConfig {
  const app = new ApplicationConfig();
  app.addGlobalGuard(Object.create(AuthGuard.prototype) as CanActivate);
  app.addGlobalGuard(Object.create(JsonBodyGuard.prototype) as CanActivate);
  app.addGlobalPipe(new GatewayValidationPipe());
  app.addGlobalFilter(new ProblemJsonExceptionFilter());
  return app;
}

describe('EdgeReads: app-wide enhancers', () => {
  it("serves with the gateway's own guards, pipe and filter", () => {
    expect(unknownEnhancerOf(gatewayConfig())).toBeUndefined();
  });

  it('turns off for any other global guard, interceptor, pipe or filter', () => {
    const guard = gatewayConfig();
    guard.addGlobalGuard({ canActivate: () => true });
    expect(unknownEnhancerOf(guard)).toBe('guard');
    const interceptor = gatewayConfig();
    interceptor.addGlobalInterceptor({ intercept: () => of(null) } as NestInterceptor);
    expect(unknownEnhancerOf(interceptor)).toBe('interceptor');
    const pipe = gatewayConfig();
    pipe.addGlobalPipe({ transform: (value: unknown) => value });
    expect(unknownEnhancerOf(pipe)).toBe('pipe');
    const filter = gatewayConfig();
    filter.addGlobalFilter({ catch: () => undefined });
    expect(unknownEnhancerOf(filter)).toBe('filter');
  });
});
