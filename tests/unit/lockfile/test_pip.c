/* SPDX-License-Identifier: Apache-2.0 */
/* test_pip.c -- pip requirements parser: the pip-compile style fixture and
 * inline cases for pinning, hashes, continuations, comments, options, URL and
 * VCS requirements, every error and warning with its line. */
#include "helpers.h"

#include "util/buf.h"

static parsed *pip(const char *text)
{
	return parse_text(cr_lockfile_parse_pip, "requirements/prod.txt", text);
}

static void test_fixture(void **state)
{
	(void)state;
	parsed *p = parse_fixture(cr_lockfile_parse_pip, "tests/fixtures/lockfiles/pip/requirements.txt");
	expect_clean(p);
	assert_int_equal(p->l.n, 8);
	const cr_artifact *a = must_find(p, "certifi", "2024.2.2");
	assert_int_equal(a->line, 7);
	assert_string_equal(a->manager, "pip");
	assert_int_equal(a->kind, CR_ARTIFACT_REGISTRY);
	assert_string_equal(a->registry, "");
	assert_string_equal(a->resolved, "");
	assert_null(a->alias);
	/* two --hash options: two SRI strings, space separated */
	assert_string_equal(a->integrity, "sha256-ocBvyVoU9bc6TJzhF0OI0Bbb8Km1+aYXR0kM1L8vIck= "
					  "sha256-6O7KbHf8SfXMozC9J52Wp0Ti/la2iBmS+6Akll4Vj2k=");
	assert_int_equal(must_find(p, "requests", "2.31.0")->line, 27); /* requests[socks] */
	assert_int_equal(must_find(p, "colorama", "0.4.6")->line, 15);  /* ; sys_platform == "win32" */
	must_find(p, "typing-extensions", "4.9.0");
	must_find(p, "charset-normalizer", "3.3.2");
	parsed_free(p);
}

static void test_hash_conversion(void **state)
{
	(void)state;
	parsed *p =
		pip("empty==1.0 "
		    "--hash=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 "
		    "--hash sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c"
		    "5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e "
		    "--hash=sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\n");
	expect_clean(p);
	assert_string_equal(must_find(p, "empty", "1.0")->integrity,
			    "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= "
			    "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/"
			    "SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==");
	parsed_free(p);
}

static void test_bad_hashes(void **state)
{
	(void)state;
	parsed *p = pip("\nx==1 --hash=md5:d41d8cd98f00b204e9800998ecf8427e\n");
	expect_error(p, 2, "invalid --hash value");
	assert_int_equal(p->l.n, 0);
	parsed_free(p);
	p = pip("x==1 --hash=sha256:zz\n");
	expect_error(p, 1, "invalid --hash value");
	parsed_free(p);
	p = pip("x==1 --hash=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g\n");
	expect_error(p, 1, "invalid --hash value");
	parsed_free(p);
}

static void test_names_normalised(void **state)
{
	(void)state;
	parsed *p = pip("Foo.Bar_baz==1.0 "
			"--hash=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
			"A__B--.C[x, y] == 2.0+local.1 --hash=sha256:"
			"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n");
	expect_clean(p);
	must_find(p, "foo-bar-baz", "1.0");
	assert_int_equal(must_find(p, "a-b-c", "2.0+local.1")->line, 2);
	parsed_free(p);
}

static void test_continuations_and_comments(void **state)
{
	(void)state;
	parsed *p =
		pip("# header\n"
		    "\n"
		    "six==1.16.0 \\\n"
		    "    --hash=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 \\\n"
		    "    # a comment ends the continuation\n"
		    "    # via foo\n"
		    "nohash==2.0  # trailing comment\n"
		    "url @ https://example.com/url-1.0.tar.gz#sha256=abc\n");
	assert_int_equal(p->rc, 0);
	assert_int_equal(must_find(p, "six", "1.16.0")->line, 3);
	const cr_artifact *a = must_find(p, "nohash", "2.0");
	assert_string_equal(a->integrity, "");
	expect_warning(p, 7, "'nohash@2.0' has no integrity");
	/* '#' not preceded by a blank is part of the URL */
	assert_string_equal(must_find(p, "url", NULL)->resolved,
			    "https://example.com/url-1.0.tar.gz#sha256=abc");
	parsed_free(p);
}

static void test_crlf(void **state)
{
	(void)state;
	parsed *p = pip("a==1 \\\r\n  "
			"--hash=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n");
	expect_clean(p);
	must_find(p, "a", "1");
	parsed_free(p);
}

static void test_unpinned(void **state)
{
	(void)state;
	static const struct {
		const char *line, *why;
	} cases[] = {
		{"requests", "has no version"},        {"requests>=2.0", "only '=='"},
		{"requests~=2.0", "only '=='"},        {"requests===2.0", "arbitrary equality"},
		{"requests==2.*", "wildcard"},         {"requests==2.0,<3", "exactly one version"},
		{"requests[socks]", "has no version"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_buf b;
		cr_buf_init(&b, 1024);
		cr_buf_printf(&b, "ok==1\n\n%s\n", cases[i].line);
		parsed *p = pip(b.data);
		expect_error(p, 3, "is not pinned");
		expect_error(p, 3, cases[i].why);
		assert_non_null(strstr(p->d.items[p->d.n - 1].message, "requests"));
		must_find(p, "ok", "1");
		parsed_free(p);
		cr_buf_free(&b);
	}
}

static void test_markers(void **state)
{
	(void)state;
	parsed *p = pip("a==1; python_version < \"3.8\"\n"
			"b==2 ; sys_platform == 'win32' and platform_machine != 'x86-64'\n");
	assert_int_equal(p->rc, 0);
	must_find(p, "a", "1");
	must_find(p, "b", "2");
	assert_int_equal(p->l.n, 2);
	parsed_free(p);
}

static void test_nested_files(void **state)
{
	(void)state;
	const char *lines[] = {"-r other.txt", "--requirement=other.txt", "-rother.txt", "-c constraints.txt",
			       "--constraint other.txt"};
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		cr_buf b;
		cr_buf_init(&b, 1024);
		cr_buf_printf(&b, "\n%s\n", lines[i]);
		parsed *p = pip(b.data);
		expect_error(p, 2, "nested requirement files are not supported; list each file in lockfiles");
		parsed_free(p);
		cr_buf_free(&b);
	}
}

static void test_index_options(void **state)
{
	(void)state;
	parsed *p = pip("--index-url https://pypi.example/simple\n"
			"-i https://pypi.example/simple\n"
			"--extra-index-url=https://x.example/simple\n"
			"--find-links /wheels\n"
			"--trusted-host x.example\n"
			"--require-hashes\n"
			"--no-binary :all:\n");
	assert_int_equal(p->rc, 0);
	assert_int_equal(p->d.n_warnings, 5);
	expect_warning(p, 1, "'--index-url' is ignored");
	expect_warning(p, 2, "'--index-url' is ignored");
	expect_warning(p, 3, "'--extra-index-url' is ignored");
	expect_warning(p, 4, "'--find-links' is ignored");
	parsed_free(p);
	p = pip("\n--frobnicate\n");
	expect_error(p, 2, "unknown option '--frobnicate'");
	parsed_free(p);
	p = pip("a==1 --global-option=x\n");
	expect_warning(p, 1, "option '--global-option=x' is ignored");
	parsed_free(p);
}

static void test_url_and_vcs(void **state)
{
	(void)state;
	parsed *p = pip("pkg @ https://Files.Example.com/pkg-1.0.tar.gz "
			"--hash=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
			"git+https://github.com/o/r.git@v1.0#egg=My_Pkg\n"
			"-e git+ssh://git@gitlab.com/o/e.git#egg=editable\n"
			"Named[extra] @ git+https://github.com/o/n.git@abc ; python_version > '3'\n"
			"https://example.com/wheels/Some_Pkg-2.0-py3-none-any.whl\n"
			"-e .\n"
			"./local/dir\n");
	assert_int_equal(p->rc, 0);
	const cr_artifact *a = must_find(p, "pkg", "");
	assert_int_equal(a->kind, CR_ARTIFACT_TARBALL);
	assert_string_equal(a->registry, "files.example.com");
	assert_string_equal(a->resolved, "https://Files.Example.com/pkg-1.0.tar.gz");
	assert_string_equal(a->integrity, "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	expect_warning(p, 1, "remote tarball");
	a = must_find(p, "my-pkg", "");
	assert_int_equal(a->kind, CR_ARTIFACT_GIT);
	assert_string_equal(a->registry, "github.com");
	expect_warning(p, 2, "git dependency");
	a = must_find(p, "editable", "");
	assert_int_equal(a->kind, CR_ARTIFACT_GIT);
	assert_string_equal(a->registry, "gitlab.com");
	a = must_find(p, "named", "");
	assert_int_equal(a->kind, CR_ARTIFACT_GIT);
	assert_string_equal(a->resolved, "git+https://github.com/o/n.git@abc");
	assert_int_equal(must_find(p, "some-pkg", "")->kind, CR_ARTIFACT_TARBALL);
	expect_warning(p, 6, "local requirement '.' is not fetched");
	assert_int_equal(must_find(p, "dir", "")->kind, CR_ARTIFACT_LOCAL);
	assert_int_equal(p->l.n, 6);
	parsed_free(p);
}

static void test_malformed(void **state)
{
	(void)state;
	parsed *p = pip("!!!\n");
	expect_error(p, 1, "invalid requirement");
	parsed_free(p);
	p = pip("a[x==1\n");
	expect_error(p, 1, "unclosed extras");
	parsed_free(p);
	p = pip("-e\n");
	expect_error(p, 1, "needs a path or URL");
	parsed_free(p);
	p = pip("https://example.com/\n");
	expect_error(p, 1, "cannot tell the package name");
	parsed_free(p);
}

static void test_caps(void **state)
{
	(void)state;
	cr_buf b;
	cr_buf_init(&b, 1 << 20);
	cr_buf_puts(&b, "ok==1\nx==1 \\\n");
	for (int i = 0; i < 2000; i++)
		cr_buf_puts(
			&b,
			"  --hash=sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 "
			"\\\n");
	cr_buf_puts(&b, "\nafter==2\n");
	parsed *p = pip(b.data);
	expect_error(p, 2, "longer than 65536 bytes");
	must_find(p, "ok", "1");
	must_find(p, "after", "2");
	assert_null(find_art(p, "x", NULL));
	parsed_free(p);
	cr_buf_free(&b);

	static const char nul[] = "a==1\nb==\0002\n";
	cr_artifact_list l = {0};
	cr_diags d = {0};
	assert_int_equal(cr_lockfile_parse_pip("r.txt", nul, sizeof(nul) - 1, &l, &d), -1);
	assert_int_equal(d.items[d.n - 1].line, 2);
	cr_artifact_list_free(&l);
	cr_diags_clear(&d);
}

static void test_not_utf8(void **state)
{
	(void)state;
	parsed *p = pip("ok==1\nbad==1.0\xff\nurl @ https://example.com/\xc3\x28.tgz\n");
	assert_null(find_art(p, "bad", NULL));
	expect_error(p, 3, "not UTF-8");
	must_find(p, "ok", "1");
	parsed_free(p);
}

static void test_too_many_hashes(void **state)
{
	(void)state;
	cr_buf b;
	cr_buf_init(&b, 1 << 20);
	cr_buf_puts(&b, "x==1");
	/* distinct hashes: 200 * 52 bytes of SRI passes the 8 KiB field cap */
	for (int i = 0; i < 200; i++)
		cr_buf_printf(&b, " --hash=sha256:%064x", (unsigned)i);
	parsed *p = pip(b.data);
	expect_error(p, 1, "too many --hash options");
	parsed_free(p);
	cr_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture),
		cmocka_unit_test(test_hash_conversion),
		cmocka_unit_test(test_bad_hashes),
		cmocka_unit_test(test_names_normalised),
		cmocka_unit_test(test_continuations_and_comments),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_unpinned),
		cmocka_unit_test(test_markers),
		cmocka_unit_test(test_nested_files),
		cmocka_unit_test(test_index_options),
		cmocka_unit_test(test_url_and_vcs),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_too_many_hashes),
		cmocka_unit_test(test_not_utf8),
	};
	return cmocka_run_group_tests_name("lockfile_pip", tests, NULL, NULL);
}
