import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { Audit, Roles } from '../auth/auth.decorators';
import { BackupDto } from '../backup/dto/backup.dto';
import { ExpensiveRoute } from '../common/expensive-route';
import { ApiErrors, BODY_ERRORS, UNREAD_BODY_ERRORS } from '../common/openapi';
import { PageQueryDto } from '../common/pagination';
import { CreateScheduleDto, ScheduleDto, SchedulePageDto, UpdateScheduleDto } from './dto/schedule.dto';
import { ScheduleRunner } from './schedule-runner.service';
import { toScheduleView } from './schedule.view';
import { SchedulesService } from './schedules.service';

const UUID = new ParseUUIDPipe();

@ApiTags('Schedules')
@Controller('api/schedules')
export class SchedulesController {
  constructor(
    private readonly schedules: SchedulesService,
    private readonly runner: ScheduleRunner,
  ) {}

  @Get()
  @Roles('auditor')
  @ApiOperation({ operationId: 'listSchedules', summary: 'List schedules, newest first' })
  @ApiOkResponse({ type: SchedulePageDto })
  @ApiErrors([400, 'A bad limit or cursor (named)'])
  list(@Query() q: PageQueryDto): Promise<SchedulePageDto> {
    return this.schedules.list(q.limit ?? 50, q.cursor);
  }

  @Get(':id')
  @Roles('auditor')
  @ApiOperation({ operationId: 'getSchedule', summary: 'One schedule, with its next run' })
  @ApiOkResponse({ type: ScheduleDto })
  @ApiErrors([400, 'id is not a UUID'], [404, 'No such schedule'])
  async get(@Param('id', UUID) id: string): Promise<ScheduleDto> {
    return toScheduleView(await this.schedules.entity(id));
  }

  @Post()
  @Roles('admin')
  @Audit('schedule.create', 'schedule')
  @ApiOperation({
    operationId: 'createSchedule',
    summary: 'Create a schedule; it is active at once (400 names a bad cron field or time zone)',
  })
  @ApiCreatedResponse({ type: ScheduleDto, description: 'The schedule; Location names it' })
  @ApiErrors([400, 'Invalid input: a bad cron expression or time zone, a missing table list (named)'], 413, 415)
  async create(@Body() dto: CreateScheduleDto, @Res({ passthrough: true }) res: Response): Promise<ScheduleDto> {
    const row = await this.schedules.create(dto);
    await this.runner.sync();
    res.locals.auditResourceId = row.id;
    res.setHeader('Location', `/api/schedules/${row.id}`);
    return toScheduleView(row);
  }

  @Patch(':id')
  @Roles('admin')
  @Audit('schedule.update', 'schedule')
  @ApiOperation({ operationId: 'updateSchedule', summary: 'Change a schedule; takes effect at once' })
  @ApiOkResponse({ type: ScheduleDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such schedule'])
  async update(@Param('id', UUID) id: string, @Body() dto: UpdateScheduleDto): Promise<ScheduleDto> {
    const row = await this.schedules.update(id, dto);
    await this.runner.sync();
    return toScheduleView(row);
  }

  @Delete(':id')
  @HttpCode(204)
  @Roles('admin')
  @Audit('schedule.delete', 'schedule')
  @ApiOperation({
    operationId: 'deleteSchedule',
    summary: 'Delete a schedule (its backups stay, under the ad-hoc retention window)',
  })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors([400, 'id is not a UUID, or an unreadable body'], ...UNREAD_BODY_ERRORS, [404, 'No such schedule'])
  async delete(@Param('id', UUID) id: string): Promise<void> {
    await this.schedules.delete(id);
    await this.runner.sync();
  }

  @Post(':id/run')
  @HttpCode(202)
  @Roles('operator')
  @Audit('schedule.run', 'schedule')
  @ExpensiveRoute()
  @ApiOperation({
    operationId: 'runSchedule',
    summary: "Start the schedule's backup now (409 while another backup or restore runs)",
  })
  @ApiAcceptedResponse({ type: BackupDto, description: 'The backup it started; Location names it' })
  @ApiErrors(
    ...UNREAD_BODY_ERRORS,
    [400, "id is not a UUID, the schedule's tables no longer exist, or an unreadable body"],
    [404, 'No such schedule'],
    [409, 'Another backup or restore of this database is running'],
  )
  async run(@Param('id', UUID) id: string, @Res({ passthrough: true }) res: Response): Promise<BackupDto> {
    const backup = await this.runner.runNow(id);
    res.setHeader('Location', `/api/backups/${backup.id}`);
    return backup;
  }
}
