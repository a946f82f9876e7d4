package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/tagstream/tagstream/internal/client"
)

// defaultServer is used when neither --server, TAGSTREAM_SERVER nor a
// stored login names one.
const defaultServer = "http://localhost:8000"

// exitCodeError asks for a process exit code other than 1: the job a
// command waited for ended with failures, was cancelled or failed.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// ExitCode is the process exit code the error asks for.
func (e *exitCodeError) ExitCode() int { return e.code }

// exitCodeOf maps a command's error to its exit code: 0 for none, the
// requested code for an exitCodeError, 1 for everything else.
func exitCodeOf(err error) int {
	var ec *exitCodeError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		return ec.code
	}
	return 1
}

// serverURL picks the server: the flag, then TAGSTREAM_SERVER, then the
// stored login, then the default.
func serverURL(flag, stored string) string {
	for _, s := range []string{flag, os.Getenv("TAGSTREAM_SERVER"), stored, defaultServer} {
		if s = strings.TrimRight(strings.TrimSpace(s), "/"); s != "" {
			return s
		}
	}
	return defaultServer
}

func userAgent() string { return "tagstream-cli/" + version }

// openSession returns a client for the chosen server with the stored
// tokens; a refresh rewrites the credentials file because the old refresh
// token is dead on the server from then on.
func openSession(server string) (*client.Client, error) {
	path, err := client.CredentialsPath()
	if err != nil {
		return nil, err
	}
	creds, err := client.LoadCredentials(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("not logged in; run `tagstream login --server URL --email EMAIL`")
	}
	if err != nil {
		return nil, err
	}
	srv := serverURL(server, creds.Server)
	if srv != strings.TrimRight(creds.Server, "/") {
		return nil, fmt.Errorf("not logged in to %s (stored login is for %s); run `tagstream login --server %s --email EMAIL`", srv, creds.Server, srv)
	}
	save := func(t client.Tokens) error {
		creds.AccessToken, creds.RefreshToken = t.AccessToken, t.RefreshToken
		return client.SaveCredentials(path, creds)
	}
	return client.New(srv, client.WithUserAgent(userAgent()),
		client.WithTokens(client.Tokens{AccessToken: creds.AccessToken, RefreshToken: creds.RefreshToken}, save))
}

func loginCmd() *cobra.Command {
	var server, email string
	var passwordStdin bool
	cmd := &cobra.Command{
		Use:   "login --server URL --email EMAIL [--password-stdin]",
		Short: "Log in to a Tagstream server and store the tokens for later commands",
		Long: `Log in and store the server URL, access token and refresh token in
$XDG_CONFIG_HOME/tagstream/credentials.json (~/.config/tagstream when unset;
TAGSTREAM_CREDENTIALS overrides the path), mode 0600.

The password comes from stdin with --password-stdin, else from
TAGSTREAM_PASSWORD. (There is no interactive prompt: this build has no
terminal library to turn echo off.) --server defaults to TAGSTREAM_SERVER,
then the stored server, then ` + defaultServer + `.`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&server, "server", "", "server URL (default: TAGSTREAM_SERVER, the stored server, "+defaultServer+")")
	cmd.Flags().StringVar(&email, "email", "", "account email")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from stdin")
	_ = cmd.MarkFlagRequired("email")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		path, err := client.CredentialsPath()
		if err != nil {
			return err
		}
		stored, _ := client.LoadCredentials(path) // a damaged file is replaced
		password, err := readPassword(cmd.InOrStdin(), passwordStdin)
		if err != nil {
			return err
		}
		srv := serverURL(server, stored.Server)
		c, err := client.New(srv, client.WithUserAgent(userAgent()))
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
		defer cancel()
		res, err := c.Login(ctx, email, password)
		if err != nil {
			return fmt.Errorf("login to %s: %w", srv, err)
		}
		err = client.SaveCredentials(path, client.Credentials{Server: srv, Email: res.User.Email,
			AccessToken: res.Tokens.AccessToken, RefreshToken: res.Tokens.RefreshToken})
		if err != nil {
			return fmt.Errorf("store credentials: %w", err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s as %s (%s)\n", srv, res.User.Email, res.User.Role)
		return nil
	}
	return cmd
}

// readPassword takes the first line of stdin or TAGSTREAM_PASSWORD.
func readPassword(in io.Reader, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read password from stdin: %w", err)
		}
		if line = strings.TrimRight(line, "\r\n"); line == "" {
			return "", fmt.Errorf("--password-stdin: stdin is empty")
		}
		return line, nil
	}
	if p := os.Getenv("TAGSTREAM_PASSWORD"); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("no password: pass --password-stdin or set TAGSTREAM_PASSWORD")
}

func logoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the stored session on the server and delete the credentials file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := client.CredentialsPath()
			if err != nil {
				return err
			}
			creds, err := client.LoadCredentials(path)
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintln(cmd.OutOrStdout(), "Not logged in")
				return nil
			}
			if err == nil {
				// Best effort: the local file goes away even when the server
				// cannot be reached, and the refresh token then expires there.
				if c, cerr := client.New(creds.Server, client.WithUserAgent(userAgent()),
					client.WithTokens(client.Tokens{RefreshToken: creds.RefreshToken}, nil)); cerr == nil {
					ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
					if lerr := c.Logout(ctx); lerr != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "tagstream: warning: server logout failed: %s\n", oneLine(lerr))
					}
					cancel()
				}
			}
			if err := client.RemoveCredentials(path); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged out of %s\n", creds.Server)
			return nil
		},
	}
}

// printJSON writes the server's JSON indented but otherwise untouched (key
// order and number precision kept), for machines.
func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("server sent invalid JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
