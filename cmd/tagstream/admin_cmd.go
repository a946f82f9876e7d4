package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tagstream/tagstream/internal/auth"
)

// adminCmd groups operator commands on accounts. They need what the server
// needs (the data dir, or TAGSTREAM_NATS_URL and its credentials), which is
// the proof of authority: nothing is granted by registering an address.
func adminCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Operator commands on accounts (run next to the data)"}
	cmd.AddCommand(adminBootstrapCmd())
	return cmd
}

func adminBootstrapCmd() *cobra.Command {
	var cfg config
	var email, role string
	cmd := &cobra.Command{
		Use:   "bootstrap [--email E] [--role admin|auditor]",
		Short: "Grant the first admin: promote an existing account, or print a one-time invitation for a new one",
		Args:  cobra.NoArgs,
	}
	bindErr := cfg.bind(cmd.Flags())
	cmd.Flags().StringVar(&email, "email", "", "the account (default: the first of TAGSTREAM_ADMIN_EMAILS)")
	cmd.Flags().StringVar(&role, "role", "admin", "admin or auditor")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if bindErr != nil {
			return bindErr
		}
		if email == "" {
			if list := splitList(cfg.AdminEmails); len(list) > 0 {
				email = list[0]
			}
		}
		if email == "" {
			return fmt.Errorf("admin bootstrap needs --email (or TAGSTREAM_ADMIN_EMAILS)")
		}
		r := auth.Role(role)
		if r != auth.RoleAdmin && r != auth.RoleAuditor {
			return fmt.Errorf("--role must be admin or auditor, got %q", role)
		}
		// Unlike the log's operator commands, bootstrap may run before the
		// first serve: it sets up accounts, it reads no log. It names the
		// store it wrote to, so a mistyped data dir is seen at once.
		a, err := connectOperator(c, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.OutOrStdout(), "accounts %s\n", where(cfg))
		defer a.close()
		svc, err := auth.New(c.Context(), a.conn.JS, auth.Config{KeyDir: filepath.Join(cfg.DataDir, "keys"),
			Registration: cfg.Registration, Replicas: a.conn.Replicas()})
		if err != nil {
			return err
		}
		defer svc.Close()
		u, inv, err := svc.Bootstrap(c.Context(), email, r)
		if err != nil {
			return err
		}
		out := c.OutOrStdout()
		if inv == nil {
			fmt.Fprintf(out, "%s (%s) is now %s; their earlier access tokens were revoked\n", u.Email, u.ID, u.Role)
			return nil
		}
		fmt.Fprintf(out, "%s has no account yet. Register it with this one-time %s invitation (valid until %s):\n%s\n",
			inv.Email, inv.Role, inv.ExpiresAt.Format("2006-01-02 15:04 MST"), inv.Token)
		if cfg.Registration == auth.RegistrationClosed {
			fmt.Fprintln(out, "Registration is closed: start serve with TAGSTREAM_REGISTRATION=invite to redeem it.")
		}
		return nil
	}
	return cmd
}
