import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module';
import { configureApp } from './app.setup';
import { printStartupBanner } from './bootstrap/banner';
import { AppConfig } from './config/app-config';
import { ConfigError } from './config/app-config';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { bufferLogs: true });
  configureApp(app);
  const config = app.get(AppConfig);
  await app.listen(config.PORT, config.HOST);
  printStartupBanner(app);
}

bootstrap().catch((e: unknown) => {
  // A configuration error is the operator's to fix: say what is wrong, without a stack trace.
  process.stderr.write(`${e instanceof ConfigError ? e.message : e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
