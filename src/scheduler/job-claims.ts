import type { EntityManager } from 'typeorm';
import { JobClaimEntity } from './job-claim.entity';
import { ScheduleEntity } from './schedule.entity';

/**
 * Claims one fire time of a service-wide job for this instance. Several instances tick at
 * the same instant; each runs a conditional UPDATE from an older fire time to this one, and
 * the database lets exactly one of them change the row (PostgreSQL re-checks the condition
 * after waiting for the winner's row lock; SQLite serializes writers).
 */
export async function claimJobFire(m: EntityManager, name: string, fireAt: Date): Promise<boolean> {
  // '' sorts before every ISO time, so the first claim of a new name succeeds.
  await m.createQueryBuilder().insert().into(JobClaimEntity).values({ name, lastFireAt: '' }).orIgnore().execute();
  const fire = fireAt.toISOString();
  const res = await m
    .createQueryBuilder()
    .update(JobClaimEntity)
    .set({ lastFireAt: fire })
    .where('name = :name', { name })
    .andWhere('last_fire_at < :fire', { fire })
    .execute();
  return res.affected === 1;
}

/** True exactly once per database for `name`: for one-time work such as creating the default schedule. */
export function claimOnce(m: EntityManager, name: string): Promise<boolean> {
  return claimJobFire(m, name, new Date(0));
}

/** The same claim for one schedule's tick, on the schedule row itself. */
export async function claimScheduleFire(m: EntityManager, scheduleId: string, fireAt: Date): Promise<boolean> {
  const fire = fireAt.toISOString();
  const res = await m
    .createQueryBuilder()
    .update(ScheduleEntity)
    .set({ lastFireAt: fire })
    .where('id = :id', { id: scheduleId })
    .andWhere('enabled = :on', { on: true })
    .andWhere('(last_fire_at IS NULL OR last_fire_at < :fire)', { fire })
    .execute();
  return res.affected === 1;
}
