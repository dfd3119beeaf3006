export async function loadCampaign(..._a: unknown[]): Promise<never> { throw new Error('todo'); }
