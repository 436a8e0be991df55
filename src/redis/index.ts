export { RedisLease } from './redis.lease';
export { RedisModule } from './redis.module';
export { COMPARE_AND_DELETE, COMPARE_AND_EXPIRE, REPLACE_KEEPING_TTL, RedisScript } from './redis.script';
export { RedisService, type MessageHandler, type RedisClient } from './redis.service';
export { SingleFlightLock, type FlightOutcome, type FlightPlan } from './single-flight.lock';
export { WakeUpRegistry } from './wake-up.registry';
