/** The DataSource the TypeORM CLI uses (`npm run migration:run`), from the same configuration as the server. */
import 'reflect-metadata';
import { config as loadDotenv } from 'dotenv';
import { DataSource } from 'typeorm';
import { loadConfig } from '../config/app-config';
import { buildDataSourceOptions } from './data-source-options';

loadDotenv({ quiet: true });
export default new DataSource(buildDataSourceOptions(loadConfig(process.env).DATABASE_URL));
