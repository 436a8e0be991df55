import { MetricsService } from './metrics.service';

/** The exposition lines of one metric family. */
async function linesOf(metrics: MetricsService, name: string): Promise<string[]> {
  const { body } = await metrics.exposition();
  return body.split('\n').filter((line) => line.startsWith(name));
}

describe('MetricsService.httpRecorder', () => {
  it('counts into the same series as recordHttpRequest, one per status', async () => {
    const metrics = new MetricsService();
    const record = metrics.httpRecorder('rest', '/api/v1/projects', 'GET');
    record(200, 4);
    record(200, 40);
    metrics.recordHttpRequest('rest', '/api/v1/projects', 'GET', 200, 400);
    record(503, 1);
    expect(await linesOf(metrics, 'gateway_http_requests_total{')).toEqual([
      'gateway_http_requests_total{transport="rest",route="/api/v1/projects",method="GET",status="200"} 3',
      'gateway_http_requests_total{transport="rest",route="/api/v1/projects",method="GET",status="503"} 1',
    ]);
    expect(await linesOf(metrics, 'gateway_http_request_duration_seconds_count')).toEqual([
      'gateway_http_request_duration_seconds_count{transport="rest",route="/api/v1/projects",method="GET"} 4',
    ]);
    expect(await linesOf(metrics, 'gateway_http_request_duration_seconds_bucket{le="0.005"')).toEqual([
      'gateway_http_request_duration_seconds_bucket{le="0.005",transport="rest",route="/api/v1/projects",method="GET"} 2',
    ]);
  });

  it('bounds GraphQL operation names as recordHttpRequest does', async () => {
    const metrics = new MetricsService();
    metrics.httpRecorder('graphql', 'query { not a name }', 'POST')(200, 1);
    expect(await linesOf(metrics, 'gateway_http_requests_total{')).toEqual([
      'gateway_http_requests_total{transport="graphql",route="invalid",method="POST",status="200"} 1',
    ]);
  });
});
