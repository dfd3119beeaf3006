export async function corruptionCampaign(..._a: unknown[]): Promise<never> { throw new Error('todo'); }
