// Erasure and legal hold on the job page. What the caller may do comes
// from the server (can_erase, can_hold: its one access policy); the page
// offers an erasure only for an ended job that is not held or erased,
// because the server would refuse the rest (409). Both ask for a reason,
// which the server records in the job's events; an erasure also asks for
// confirmation, as it cannot be undone. An erased job shows a banner, a
// held one a badge, for every reader.

import { post, missingEndpoint } from "./api.js";
import { $, fmtTime, showError, clearError, showInfo, hideAlert, busy } from "./dom.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

export class GovernancePanel {
  // changed is called after a successful erasure or hold change, to reload
  // the job (its rows are blanked by an erasure).
  constructor(changed) {
    this.changed = changed;
    this.reset("");
    $("#erase-btn").addEventListener("click", () => this.askErase());
    $("#erase-yes").addEventListener("click", () => { this.confirming(false); this.erase(); });
    $("#erase-no").addEventListener("click", () => { this.confirming(false); $("#erase-btn").focus(); });
    $("#hold-btn").addEventListener("click", () => this.toggleHold());
  }

  reset(id) {
    this.id = id;
    this.state = {};
    this.confirming(false);
    clearError($("#job-governance"));
    $("#gov-reason").value = "";
    $("#job-erased").hidden = true;
    $("#job-hold").hidden = true;
    $("#job-governance").hidden = true;
  }

  update(s) {
    this.state = s;
    const banner = $("#job-erased");
    banner.hidden = !s.erased;
    banner.textContent = s.erased
      ? `Document data erased on ${fmtTime(s.erased_at) || "an earlier date"}${s.erase_reason ? ` (${s.erase_reason})` : ""}. Counts and the timeline remain.`
      : "";
    const hold = $("#job-hold");
    hold.hidden = !s.legal_hold;
    hold.title = s.legal_hold && s.legal_hold_reason ? `Legal hold: ${s.legal_hold_reason}` : "";
    const mayErase = s.can_erase === true && TERMINAL.has(s.status) && !s.legal_hold && !s.erased;
    const mayHold = s.can_hold === true;
    $("#erase-btn").hidden = !mayErase;
    $("#hold-btn").hidden = !mayHold;
    $("#hold-btn").textContent = s.legal_hold ? "Lift legal hold" : "Set legal hold";
    $("#hold-btn").setAttribute("aria-pressed", String(!!s.legal_hold));
    $("#job-governance").hidden = !mayErase && !mayHold;
    if (!mayErase) this.confirming(false);
  }

  confirming(on) {
    $("#erase-confirm").hidden = !on;
    $("#erase-btn").setAttribute("aria-expanded", String(on));
    if (on) { $("#erase-yes").focus(); $("#erase-confirm").scrollIntoView({ block: "center" }); }
  }

  // reason returns the typed reason, or shows that one is needed.
  reason() {
    const r = $("#gov-reason").value.trim();
    if (!r) {
      showError("Give a reason: it is recorded in the job's events.", $("#job-governance"));
      $("#gov-reason").focus();
    }
    return r;
  }

  askErase() {
    clearError($("#job-governance"));
    if (this.reason()) this.confirming(true);
  }

  erase() {
    const reason = this.reason();
    if (reason) return this.send($("#erase-btn"), "erase", { reason }, "Document data erased.");
  }

  toggleHold() {
    const reason = this.reason();
    if (!reason) return;
    const on = !this.state.legal_hold;
    return this.send($("#hold-btn"), "legal-hold", { on, reason }, on ? "Legal hold set." : "Legal hold lifted.");
  }

  async send(btn, action, body, done) {
    const where = $("#job-governance");
    const id = this.id;
    hideAlert();
    clearError(where);
    await busy(btn, async () => {
      try {
        await post(`/api/batch/jobs/${encodeURIComponent(id)}/${action}`, body);
        $("#gov-reason").value = "";
        showInfo(done);
        if (id === this.id) this.changed();
      } catch (err) {
        if (missingEndpoint(err)) showError("This server cannot erase or hold jobs.", where);
        else showError(err, where);
      }
    });
  }
}
