/** `node -r dist/dev/functions-host/preload.js`: resolve `@azure/functions-core` to the local stand-in. */
import { installFunctionsCore } from './install';

installFunctionsCore();
