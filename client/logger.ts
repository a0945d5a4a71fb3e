// The logger a client process writes with. Apart from client/settings.ts so that reading the settings
// (`qubinode dag validate`) does not load the logging library.
export { createLogger, type Logger } from '../config/logger';
