import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config';
import { buildDataSourceOptions } from './data-source-options';
import { LeaseEntity } from './lease.entity';
import { LeaseService } from './lease.service';
import { Transactions } from './transactions';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        buildDataSourceOptions(config.DATABASE_URL, { migrationsRun: config.MIGRATIONS_RUN }),
    }),
    TypeOrmModule.forFeature([LeaseEntity]),
  ],
  providers: [Transactions, LeaseService],
  exports: [Transactions, LeaseService],
})
export class DatabaseModule {}
