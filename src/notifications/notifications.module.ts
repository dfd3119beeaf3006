import { Global, Module } from '@nestjs/common';
import { AlertStore } from './alert-store';
import { AlertsController } from './alerts.controller';
import { NotificationsService } from './notifications.service';

/** Global: any module may notify or raise an alert. */
@Global()
@Module({
  controllers: [AlertsController],
  providers: [NotificationsService, AlertStore],
  exports: [NotificationsService, AlertStore],
})
export class NotificationsModule {}
