import { Global, Module } from '@nestjs/common';
import { ForegroundActivity } from './foreground-activity';

/** The one count of API requests in flight, which backups ask before moving their data (inert in the CLI: no requests). */
@Global()
@Module({ providers: [ForegroundActivity], exports: [ForegroundActivity] })
export class ForegroundModule {}
