export async function hostileCampaign(..._a: unknown[]): Promise<never> { throw new Error('todo'); }
