import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { ThrottlerGuard, ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule } from 'nestjs-pino';
import { AuditModule } from './audit/audit.module';
import { AuthGuard } from './auth/auth.guard';
import { AuthModule } from './auth/auth.module';
import { isExpensiveRoute } from './common/expensive-route';
import { HttpExceptionFilter } from './common/http-exception.filter';
import { HttpLogging, logDestinationProvider } from './common/http-logging';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { BackupModule } from './backup/backup.module';
import { StorageModule } from './backup/storage.module';
import { ForegroundModule } from './common/foreground.module';
import { RecoveryModule } from './recovery/recovery.module';
import { NotificationsModule } from './notifications/notifications.module';
import { OffsiteModule } from './offsite/offsite.module';
import { SchedulerModule } from './scheduler/scheduler.module';
import { StatusModule } from './status/status.module';
import { MaintenanceModule } from './maintenance/maintenance.module';
import { MaintenanceGuard } from './maintenance/maintenance.guard';
import { VerificationModule } from './verification/verification.module';

@Module({
  imports: [
    ConfigModule,
    // pino-http is mounted by configureApp (app.setup.ts), ahead of body parsing; nestjs-pino
    // binds its per-request logger for application logs and uses the same root logger.
    LoggerModule.forRootAsync({
      providers: [logDestinationProvider, HttpLogging],
      inject: [HttpLogging],
      useFactory: (logging: HttpLogging) => ({ pinoHttp: { logger: logging.logger }, useExisting: true }),
    }),
    ThrottlerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => [
        {
          name: 'default',
          // Routes that start heavy work get a stricter budget of their own (@ExpensiveRoute()).
          ttl: (ctx) =>
            (isExpensiveRoute(ctx) ? config.THROTTLE_EXPENSIVE_TTL_SECONDS : config.THROTTLE_TTL_SECONDS) * 1000,
          limit: (ctx) => (isExpensiveRoute(ctx) ? config.THROTTLE_EXPENSIVE_LIMIT : config.THROTTLE_LIMIT),
        },
      ],
    }),
    DatabaseModule,
    StorageModule,
    ForegroundModule,
    AuditModule,
    AuthModule,
    BackupModule,
    RecoveryModule,
    OffsiteModule,
    HealthModule,
    NotificationsModule,
    SchedulerModule,
    StatusModule,
    MaintenanceModule,
    VerificationModule,
  ],
  providers: [
    // Order matters: rate limiting first (also protects key guessing), then authentication.
    { provide: APP_GUARD, useClass: ThrottlerGuard },
    { provide: APP_GUARD, useExisting: AuthGuard },
    // After authentication, so an unknown caller learns nothing about maintenance.
    { provide: APP_GUARD, useExisting: MaintenanceGuard },
    { provide: APP_FILTER, useClass: HttpExceptionFilter },
  ],
})
export class AppModule {}
