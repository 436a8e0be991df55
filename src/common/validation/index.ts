export { GatewayValidationPipe, describeValidationErrors } from './gateway-validation.pipe';
export { IsSafeName, isSafeName, MAX_NAME_LENGTH, CONTROL_CHARACTERS } from './safe-name.decorator';
