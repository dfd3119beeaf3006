import { Global, Module } from '@nestjs/common';
import { NotificationsService } from './notifications.service';

/** Global: any module may raise an alert. */
@Global()
@Module({ providers: [NotificationsService], exports: [NotificationsService] })
export class NotificationsModule {}
