export { MAX_TIMER_DELAY_MS, setLongTimeout, type LongTimeout } from './long-timeout';
