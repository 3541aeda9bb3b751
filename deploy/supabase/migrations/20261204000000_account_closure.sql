-- The account closure service's columns and tables in the app's Supabase project.
-- `supabase db push` (or paste into the SQL editor); safe to run again.
alter table user_onboarding
  add column if not exists account_closure_initiated_at timestamptz;

alter table user_onboarding
  add column if not exists account_closed_at timestamptz,
  add column if not exists account_closure_needs_attention boolean default false;

create table if not exists closure_emails (
  message_key text primary key, kind text not null, status text not null,
  provider_message_id text, claimed_at timestamptz default now(), sent_at timestamptz
);

-- Append-only: the service inserts and reads, nobody updates or deletes.
create table if not exists closure_audit (
  id bigint generated always as identity primary key,
  at timestamptz not null, account_id text not null, actor text not null, actor_id text not null,
  role text not null,
  via text not null, action text not null, dry_run boolean not null, reason text not null,
  outcome text not null, detail text not null
);
create index if not exists closure_audit_account on closure_audit (account_id, id);
revoke update, delete, truncate on closure_audit from service_role, authenticated, anon;
grant select, insert on closure_audit to service_role;
