export { ErrorCode, errorCodeMeanings, httpStatusOf } from './error-code';
export { GatewayError, type ErrorDetails } from './gateway-error';
