// Who the user is and what they may do (the `me` operation). A hint for hiding what the
// user can't do; the database still decides every action.
import { createContext, useContext } from "react";
import type { Me } from "../api/bindings.gen";

export const MeContext = createContext<Me | null>(null);

export function useMe(): Me | null {
  return useContext(MeContext);
}

/** The permissions, all false until `me` has loaded. */
export function useMay(): Me["may"] {
  const me = useMe();
  return (
    me?.may ?? {
      read: false,
      submit_jobs: false,
      approve_jobs: false,
      engage_kill_switch: false,
      release_kill_switch: false,
      plan_ipam: false,
      manage_users: false,
      manage_sources: false,
      manage_service_identities: false,
      run_workers: false,
      job_types: [],
    }
  );
}
