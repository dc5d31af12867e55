/*
 * certsvc-admin.c: the administrator's CLI, "certsvc-admin <noun> <verb>
 * [options]".  This file only finds the command and hands it its argv;
 * only main() exits.  The PIN is never an argument: it comes from the data
 * dir's pin file or from CERTSVC_PIN.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "certsvc/log.h"
#include "certsvc/mem.h"
#include "tools/admin.h"
#include "tools/admin_backup.h"
#include "tools/admin_life.h"

const struct admin_command admin_commands[] = {
    {"init", NULL, "[--demo] [--alg ALG]",
        "Create a data dir: config, PIN, SoftHSM2 token (when the module "
        "is SoftHSM2),\nstore and CA. Idempotent: a second run changes "
        "nothing and says so.",
        "  --demo            also create the demo objects "
        "(DESIGN.md section 7)\n"
        "  --alg ALG         CA key algorithm: p256 (default), p384, "
        "rsa3072\n",
        admin_init},
    {"token", "status", "",
        "Show the token, its login state and the "
        "session pool.",
        "", admin_token_status},
    {"key", "generate", "--label LABEL [--alg ALG] [--purpose P]",
        "Generate a key pair inside the token (sensitive, "
        "non-extractable)\nand record it in the key inventory.",
        "  --label LABEL     CKA_LABEL of the new key (required, unique)\n"
        "  --alg ALG         p256 (default), p384, rsa3072\n"
        "  --purpose P       inventory purpose (default: admin)\n",
        admin_key_generate},
    {"key", "list", "",
        "List the token's private keys with their "
        "attributes and purposes.",
        "", admin_key_list},
    {"key", "destroy", "--uri URI | --label LABEL [--yes]",
        "Destroy a key pair in the token for good (audited). Refused "
        "while an active\nseal, a CA or a valid service certificate uses "
        "it. Asks for the label to be\ntyped on stdin unless --yes.",
        "  --uri URI         the key's PKCS#11 URI\n"
        "  --label LABEL     or its label in the key inventory\n"
        "  --yes             do not ask for confirmation\n",
        admin_key_destroy},
    {"ca", "init", "[--alg ALG]",
        "Create the root and issuing CA in the token if there is none.",
        "  --alg ALG         p256 (default), p384, rsa3072\n", admin_ca_init},
    {"ca", "show", "[--pem]", "Show the CA certificates.",
        "  --pem             also print the certificates in PEM\n",
        admin_ca_show},
    {"ca", "rollover", "[--alg ALG]",
        "Add a new issuing CA under the same root; it issues every new "
        "seal and service\ncertificate. The old one keeps its CRL and "
        "OCSP answers. Restart certsvcd\nafterwards, then 'seal rotate' "
        "each seal (docs/operations.md).",
        "  --alg ALG         p256, p384, rsa3072 (default: the current "
        "issuing CA's)\n",
        admin_ca_rollover},
    {"dept", "add", "--code CODE --name NAME --region REGION",
        "Add an issuing department (unified social credit code checked).",
        "  --code CODE       18-character unified social credit code\n"
        "  --name NAME       department name\n"
        "  --region REGION   six-digit administrative region code\n",
        admin_dept_add},
    {"dept", "list", "", "List departments.", "", admin_dept_list},
    {"dept", "show", "--code CODE", "Show one department.",
        "  --code CODE       the department's credit code\n", admin_dept_show},
    {"type", "add", "--file DEFINITION.json",
        "Add a licence type from its JSON definition "
        "(docs/licence-types.md).",
        "  --file FILE       the definition\n", admin_type_add},
    {"type", "list", "", "List licence types.", "", admin_type_list},
    {"type", "show", "--code CODE", "Print a licence type's definition.",
        "  --code CODE       the type code\n", admin_type_show},
    {"seal", "create", "--dept CODE --name NAME [--image PNG] [--alg ALG]",
        "Create an e-seal: key in the token, certificate from the issuing CA.",
        "  --dept CODE       owning department\n"
        "  --name NAME       seal name (the certificate's CN)\n"
        "  --image PNG       seal image; its SHA-256 is bound into every "
        "signature\n"
        "  --alg ALG         p256 (default), p384, rsa3072\n"
        "  --days N          certificate validity (default 1095)\n",
        admin_seal_create},
    {"seal", "list", "[--dept CODE]", "List seals.",
        "  --dept CODE       only this department's\n", admin_seal_list},
    {"seal", "show", "--seal ID [--pem]", "Show a seal and its certificate.",
        "  --seal ID         the seal\n"
        "  --pem             print the certificate\n",
        admin_seal_show},
    {"seal", "revoke", "--seal ID --reason REASON [--comment TEXT]",
        "Revoke a seal: it signs nothing more; CRL and OCSP say revoked.",
        "  --seal ID         the seal\n"
        "  --reason REASON   CRLReason: keyCompromise, affiliationChanged,\n"
        "                    superseded, cessationOfOperation, unspecified\n"
        "  --comment TEXT    more detail, kept with the reason\n",
        admin_seal_revoke},
    {"seal", "rotate", "--seal ID [--alg ALG] [--days N]",
        "Give a seal a new key and certificate; new licences use them at "
        "once.\nThe old key is retired (never seals again) and its "
        "certificate stays valid,\nso licences sealed with it keep "
        "verifying; 'key destroy' can remove it later.",
        "  --seal ID         the seal\n"
        "  --alg ALG         p256, p384, rsa3072 (default: the seal's)\n"
        "  --days N          new certificate validity (default 1095)\n",
        admin_seal_rotate},
    {"seal", "revoke-key",
        "--seal ID --certificate SHA256 --reason REASON [--comment TEXT]",
        "Revoke one retired certificate of a seal (after 'seal rotate', "
        "when its old key\nis compromised): CRL and OCSP say revoked; the "
        "seal and its current\ncertificate stay.",
        "  --seal ID         the seal\n"
        "  --certificate H   the retired certificate's SHA-256 (64 hex, as "
        "'seal rotate'\n"
        "                    printed it)\n"
        "  --reason REASON   keyCompromise, superseded, "
        "cessationOfOperation, unspecified\n"
        "  --comment TEXT    more detail, kept with the reason\n",
        admin_seal_revoke_key},
    {"client", "add",
        "--role issuer --dept CODE | --role verifier [--types T1,T2] | "
        "--role holder --holder-id-type T --holder-id-number-file F",
        "Create an API client; its bearer secret is printed once.",
        "  --role ROLE       issuer, verifier or holder\n"
        "  --dept CODE       the issuer's department\n"
        "  --types T1,T2     a verifier's usage list (用证清单): the licence\n"
        "                    types whose 免证办 codes it may redeem; without\n"
        "                    it the verifier redeems no code at all\n"
        "  --name NAME       a label\n"
        "  --holder-id-type T        resident_id, passport, credit_code, "
        "other\n"
        "  --holder-id-number-file F file holding the holder's id number "
        "(never argv)\n",
        admin_client_add},
    {"client", "list", "", "List API clients (never their secrets).", "",
        admin_client_list},
    {"client", "revoke", "--client ID", "Revoke an API client's token.",
        "  --client ID       the client\n", admin_client_revoke},
    {"licence", "issue", "--dept CODE --request FILE.json [options]",
        "Issue a licence as an issuer of a department (the API's code "
        "path).\nSame validation, sealing and audit as POST /v1/licences; "
        "the holder token is\nprinted once. The same command run again "
        "replays: no second licence.",
        "  --dept CODE       the issuing department (credit code)\n"
        "  --request FILE    the request body of POST /v1/licences (JSON)\n"
        "  --idempotency-key K  default: cli:<SHA-256 of the canonical "
        "request>\n"
        "  --out FILE        also write the envelope JSON (mode 0644)\n",
        admin_licence_issue},
    {"licence", "show", "--id ID [--version N] [--document F] [--seal F]",
        "Show a licence's metadata; write its document, seal or envelope.",
        "  --id ID           the licence\n"
        "  --version N       that version (default: the newest)\n"
        "  --document FILE   write the sealed document (canonical JSON)\n"
        "  --seal FILE       write the seal (detached CMS, DER)\n"
        "  --envelope FILE   write the envelope JSON\n",
        admin_licence_show},
    {"licence", "import", "--csv FILE --dept CODE --type CODE [options]",
        "Issue one licence per row of a CSV file; resumable.\n"
        "Columns (docs/cli.md): holder_name, holder_id_type, "
        "holder_id_number,\noptional valid_from, valid_until, seal, and "
        "one per field of the type.\nA bad header or malformed CSV "
        "refuses the whole file (exit 2, nothing issued).\nA row failing "
        "validation goes to the rejects file with its reason and the\n"
        "others carry on. Interrupted or run again, the import skips the "
        "rows done\n(\"already imported\"). Exit 0: every row issued or "
        "already imported;\n9: some rows rejected, the others issued.\n"
        "A progress bar on a terminal; --json prints one summary object "
        "instead.",
        "  --csv FILE        UTF-8 CSV with a header row, at most 1 GiB\n"
        "  --dept CODE       the issuing department\n"
        "  --type CODE       the licence type of every row\n"
        "  --rejects FILE    rejected rows + reason (default: "
        "FILE.rejects.csv, 0600)\n"
        "  --jobs N          worker threads (default: 4 per online core)\n",
        admin_licence_import},
    {"licence", "reseal", "--seal ID [--new-seal ID2]",
        "Re-seal every valid licence whose newest version seal ID sealed "
        "with another\nkey than the current one of ID2 (default ID): "
        "each becomes a new version\n(old one superseded), one "
        "transaction and audit event each. Run again,\nit resumes and "
        "never makes a second version. Exit 9 if some failed.",
        "  --seal ID         the seal whose licences to re-seal\n"
        "  --new-seal ID2    seal them with this seal (same department)\n",
        admin_licence_reseal},
    /* licence lifecycle and objections (tools/admin_life.c) */
    {"licence", "suspend", "--id ID [--reason TEXT]",
        "Suspend (暂扣) a valid licence's newest version.",
        "  --id ID           the licence\n"
        "  --reason TEXT     why (kept with the status and in the audit "
        "trail)\n",
        admin_licence_change},
    {"licence", "reinstate", "--id ID [--reason TEXT]",
        "Reinstate a suspended licence (back to valid).",
        "  --id ID           the licence\n"
        "  --reason TEXT     why\n",
        admin_licence_change},
    {"licence", "revoke", "--id ID --reason TEXT [--kind penalty]",
        "Revoke a valid or suspended licence (final): 撤销 by the "
        "authority,\nor 吊销 as a penalty with --kind penalty.",
        "  --id ID           the licence\n"
        "  --reason TEXT     why (required)\n"
        "  --kind KIND       authority (default, 撤销) or penalty (吊销)\n",
        admin_licence_change},
    {"licence", "cancel", "--id ID [--reason TEXT]",
        "Cancel (注销) a valid or suspended licence at the holder's "
        "request (final).",
        "  --id ID           the licence\n"
        "  --reason TEXT     why\n",
        admin_licence_change},
    {"licence", "transfer", "--id ID [--to TEXT] [--reason TEXT]",
        "Mark a valid licence transferred out (转出, final).",
        "  --id ID           the licence\n"
        "  --to TEXT         where it went\n"
        "  --reason TEXT     why\n",
        admin_licence_change},
    {"licence", "renew", "--id ID --valid-until DATE [--valid-from DATE]",
        "Renew (延续) a valid or expired licence: version + 1 with a new "
        "validity,\nsealed anew; the old version is superseded.",
        "  --id ID           the licence\n"
        "  --valid-until D   new last day (YYYY-MM-DD), after the current "
        "one\n"
        "  --valid-from D    new first day (default: today)\n"
        "  --reason TEXT     why\n",
        admin_licence_change},
    {"licence", "correct",
        "--id ID --fields-file F --reason TEXT [--holder-name NAME]",
        "Correct (变更) a valid licence: version + 1 with the corrected "
        "fields,\nsealed anew; the old version is superseded.",
        "  --id ID           the licence\n"
        "  --fields-file F   JSON object with every field, as in "
        "issuance\n"
        "  --holder-name N   corrected holder name\n"
        "  --reason TEXT     why (required)\n",
        admin_licence_change},
    {"objection", "list", "[--dept CODE] [--status S]",
        "List holders' objections (异议), newest first.",
        "  --dept CODE       only this department's\n"
        "  --status S        open, corrected or rejected\n",
        admin_objection_list},
    {"objection", "resolve",
        "--id ID --outcome corrected|rejected --reason TEXT "
        "[--fields-file F]",
        "Resolve an open objection: by a correction (a new version, in "
        "the same\ntransaction) or a rejection with a reason.",
        "  --id ID           the objection (O-...)\n"
        "  --outcome O       corrected or rejected\n"
        "  --reason TEXT     the answer the holder sees (required)\n"
        "  --fields-file F   corrected: JSON object with every field\n"
        "  --holder-name N   corrected: the holder name\n",
        admin_objection_resolve},
    {"report", "verify", "FILE [--root PEM]",
        "Verify a verification report offline: FILE is a report envelope "
        "or a whole\nPOST /v1/verify response. Prints the report's "
        "result and checks. Exit 0\nonly when the report is authentic "
        "(its seal verifies to the root, by a\nreport signer), whatever "
        "result it records; 1 when it is not.",
        "  --root PEM        trusted root certificate (default: "
        "DATA/ca/root.pem)\n",
        admin_report_verify},
    {"audit", "verify", "[--from-checkpoint FILE]",
        "Recompute the audit chain and check every signed checkpoint.\n"
        "With an exported checkpoint (audit checkpoint --export), also "
        "detect a\ntruncated or rewritten tail. Exit 0 when everything "
        "holds; 1 with the\nfirst broken sequence number when not.",
        "  --from-checkpoint FILE  a checkpoint exported earlier\n",
        admin_audit_verify},
    {"audit", "checkpoint", "[--export FILE]",
        "Sign a checkpoint of the audit trail's head now with the audit "
        "key in the\ntoken (made on first use); with --export, write it "
        "for a third party to keep.",
        "  --export FILE     write the checkpoint (JSON, mode 0644)\n",
        admin_audit_checkpoint},
    {"audit", "export",
        "[--since DATE] [--until DATE] [--actor A] "
        "[--object PREFIX] [--holder TYPE:NUMBER|-] [--holder-ref HEX] "
        "[--out FILE]",
        "Write audit events as JSON lines (one event per line, with its "
        "hashes),\noldest first, filtered by day (China Standard Time), "
        "actor, object prefix\nand holder.  The trail holds no holder "
        "identifier, only its keyed hash:\n--holder computes it and "
        "selects the holder's events (its licences, its\nclients' "
        "actions).  Prefer --holder - (the identifier on stdin): argv is\n"
        "visible to other users while the command runs.",
        "  --since DATE      from this day (YYYY-MM-DD)\n"
        "  --until DATE      up to and including this day\n"
        "  --actor A         only this actor (e.g. admin, C-...)\n"
        "  --object PREFIX   only objects starting with PREFIX (e.g. "
        "licence:)\n"
        "  --holder T:N|-    only events about the holder with id type T "
        "and number N\n"
        "                    (e.g. resident_id:...); - reads T:N from "
        "stdin\n"
        "  --holder-ref HEX  the same, given the holder_ref itself\n"
        "  --out FILE        write there instead of stdout\n",
        admin_audit_export},
    /* backup and restore (tools/admin_backup.c) */
    {"backup", NULL, "--to DIR [--include-secrets]",
        "Copy the data dir to DIR while certsvcd runs: the database (one "
        "consistent\nsnapshot), certsvc.conf, holder-key, the CA "
        "certificates and, for SoftHSM2,\nthe token; manifest.json lists "
        "every file with its SHA-256. DIR must not\nexist or be empty. "
        "The PIN is left out unless --include-secrets. Audited.",
        "  --to DIR          the backup directory (created 0700, files "
        "0600)\n"
        "  --include-secrets also copy pin, so-pin, demo-tokens.json, "
        "tls_key\n",
        admin_backup},
    {"restore", NULL, "--from DIR --data-dir NEW [--skip-serials N]",
        "Restore a backup into the new or empty data dir NEW (never over "
        "one): every\nfile is checked against the manifest first, paths "
        "in certsvc.conf that\npointed into the old data dir are pointed "
        "at NEW, every licence serial counter\nmoves N ahead (the "
        "licences issued after the backup keep their identifiers),\nthe "
        "restore is audited, and what to do next is printed.",
        "  --from DIR        the backup directory\n"
        "  --skip-serials N  serial numbers to skip (default 1000000)\n",
        admin_restore},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static void
usage(FILE *f)
{
	const struct admin_command *c;
	char name[64];

	fputs("usage: certsvc-admin <command> [options]\n\n"
	      "Administer a certsvc data dir: token, CA, keys, departments, "
	      "seals,\nlicence types, API clients, licences.\n\n"
	      "commands:\n",
	    f);
	for (c = admin_commands; c->noun != NULL; c++) {
		snprintf(name, sizeof(name), "%s%s%s", c->noun,
		    c->verb != NULL ? " " : "", c->verb != NULL ? c->verb : "");
		fprintf(f, "  %-16s %.*s\n", name,
		    (int)strcspn(c->summary, "\n"), c->summary);
	}
	fputs("\ncommon options:\n"
	      "  --data-dir DIR    data directory (default: $CERTSVC_DATA, "
	      "else ./var)\n"
	      "  --json            machine-readable output\n"
	      "  -h, --help        help (also after a command)\n\n"
	      "The token PIN comes from DIR/pin (mode 0600) or CERTSVC_PIN, "
	      "never from argv.\n\n"
	      "exit codes:\n"
	      "  0 ok, 1 failure, 2 usage or invalid input, 3 not found, "
	      "4 conflict,\n"
	      "  5 token unavailable, 6 store failure, 7 crypto failure, "
	      "8 file/permission,\n"
	      "  9 some input rows rejected, the others done (licence "
	      "import)\n",
	    f);
}

int
main(int argc, char **argv)
{
	const struct admin_command *c;
	struct admin_ctx ctx;
	char name[64];
	const char *data;
	int first, rc;

	memset(&ctx, 0, sizeof(ctx));
	data = getenv("CERTSVC_DATA");
	cs_strlcpy(ctx.data_dir, data != NULL && *data != '\0' ? data : "var",
	    sizeof(ctx.data_dir));
	if (snprintf(ctx.config, sizeof(ctx.config), "%s/certsvc.conf",
	        ctx.data_dir) >= (int)sizeof(ctx.config)) {
		fputs("certsvc-admin: CERTSVC_DATA too long\n", stderr);
		return ADMIN_EXIT_USAGE;
	}
	cs_log_set_level(CS_LOG_WARN);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? ADMIN_EXIT_USAGE : ADMIN_EXIT_OK;
	}
	for (c = admin_commands; c->noun != NULL; c++) {
		if (strcmp(c->noun, argv[1]) != 0)
			continue;
		if (c->verb == NULL)
			break;
		if (argc >= 3 && strcmp(c->verb, argv[2]) == 0)
			break;
	}
	if (c->noun == NULL) {
		for (c = admin_commands; c->noun != NULL; c++)
			if (strcmp(c->noun, argv[1]) == 0)
				break;
		if (c->noun != NULL && (argc < 3 || argv[2][0] == '-')) {
			fprintf(stderr,
			    "certsvc-admin: '%s' needs a verb:", argv[1]);
			for (; c->noun != NULL; c++)
				if (strcmp(c->noun, argv[1]) == 0)
					fprintf(stderr, " %s", c->verb);
			fputs("\n", stderr);
		} else {
			fprintf(stderr,
			    "certsvc-admin: unknown command '%s%s%s'"
			    "\ntry 'certsvc-admin --help'\n",
			    argv[1], c->noun != NULL ? " " : "",
			    c->noun != NULL ? argv[2] : "");
		}
		return ADMIN_EXIT_USAGE;
	}
	snprintf(name, sizeof(name), "%s%s%s", c->noun,
	    c->verb != NULL ? " " : "", c->verb != NULL ? c->verb : "");
	ctx.cmd = name;
	first = c->verb != NULL ? 2 : 1;
	optind = 1;
	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
	rc = c->fn(&ctx, argc - first, argv + first);
	return rc;
}
