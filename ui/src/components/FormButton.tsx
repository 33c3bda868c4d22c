// A button that opens a small form in a modal, the shape of every "add …" and "edit …"
// action in Settings: the form's Save calls one registry operation and says what it did;
// a refusal is shown with the operation's own sentence and the form stays open.
import { Button, Group, Modal, Stack } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useState, type FormEvent, type ReactNode } from "react";
import { toApiError } from "../api/client";

export function failed(title: string, e: unknown) {
  notifications.show({ color: "red", title, message: toApiError(e).message });
}

/** A button that opens a small form in a modal; `submit` returns the success message. */
export function FormButton(props: {
  label: string;
  title: string;
  testId: string;
  submit: () => Promise<string>;
  onDone: () => void;
  children: ReactNode;
  variant?: string;
  /** Called as the form opens (to load what it edits). */
  onOpen?: () => void;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const go = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      notifications.show({ color: "green", message: await props.submit() });
      setOpen(false);
      props.onDone();
    } catch (err) {
      failed(`${props.title}: not saved`, err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button size="xs" variant={props.variant ?? "light"} onClick={() => {
          props.onOpen?.();
          setOpen(true);
        }}
        data-testid={props.testId}
      >
        {props.label}
      </Button>
      <Modal opened={open} onClose={() => setOpen(false)} title={props.title}>
        <form onSubmit={go}>
          <Stack>
            {props.children}
            <Group justify="flex-end">
              <Button type="submit" loading={busy} data-testid={`${props.testId}-save`}>
                Save
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </>
  );
}

