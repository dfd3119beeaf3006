import { Global, Module } from '@nestjs/common';
import { config as loadDotenv } from 'dotenv';
import { AppConfig, loadConfig } from './app-config';

/** Provides the one validated AppConfig to every module. */
@Global()
@Module({
  providers: [
    {
      provide: AppConfig,
      useFactory: () => {
        loadDotenv({ quiet: true });
        return loadConfig(process.env);
      },
    },
  ],
  exports: [AppConfig],
})
export class ConfigModule {}
