// verify_page.mjs: the verification page (GET /verify) in a real browser,
// Debian's chromium driven by playwright-core.  Run by tests/e2e/web.sh,
// which starts certsvcd, issues a licence and passes (environment):
//   BASE      http://127.0.0.1:PORT
//   VALID     an envelope file as issued;  TAMPERED  the same, one byte of
//             the document changed;  NOTJSON  a file that is not JSON
//   LICENCE   the licence id the valid envelope holds
//   VERIFIER  a verifier token;  SHOTS  the directory for screenshots
//   CODE      optional: a 免证办 code to redeem (then also BADCODE, used)
//   QRCODE    optional: another code's long form, for the QR scanner
// Prints one line per check, "PASS\twhat" or "FAIL\twhat\tdetail", which
// web.sh turns into the e2e lib's ok / not ok; exits 1 when it cannot run.
import { chromium } from 'playwright-core';

const env = (k, dflt) => {
	const v = process.env[k];
	if (v === undefined || v === '') {
		if (dflt !== undefined)
			return dflt;
		throw new Error(`${k} is not set`);
	}
	return v;
};

const BASE = env('BASE');
const SHOTS = env('SHOTS');
const CHECK_NAMES = ['document_format', 'seal_signature',
	'certificate_chain', 'certificate_status', 'licence_status',
	'validity_period', 'timestamp'];

const clean = (s) => String(s).replace(/[\t\n]+/g, ' ');
const pass = (what) => console.log(`PASS\t${clean(what)}`);
const fail = (what, detail) =>
	console.log(`FAIL\t${clean(what)}\t${clean(detail ?? '')}`);
const eq = (what, got, want) => {
	const g = JSON.stringify(got), w = JSON.stringify(want);
	if (g === w)
		pass(what);
	else
		fail(what, `got ${g}, want ${w}`);
};
const truthy = (what, v, detail) => (v ? pass(what) : fail(what, detail));

// What the page shows as the result, read from the DOM.
async function shown(page) {
	return page.evaluate(() => {
		const o = document.getElementById('result-overall');
		return {
			visible: !document.getElementById('result').hidden,
			overall: o.getAttribute('data-result'),
			overallText: o.textContent,
			licence: document.getElementById('result-licence').textContent,
			source: document.getElementById('result-source').textContent,
			checks: [...document.querySelectorAll('#checks li')].map(
			    (li) => ({
				name: li.getAttribute('data-check'),
				result: li.getAttribute('data-result'),
				label: li.querySelector('.check-name').textContent,
				resultText:
				    li.querySelector('.check-result').textContent,
				reason: li.querySelector('.check-reason').textContent,
			    })),
			error: document.getElementById('error').hidden ? null :
			    document.getElementById('error').textContent,
			report: document.getElementById('report-link').hidden ?
			    null :
			    document.getElementById('report-link').download,
		};
	});
}

// Wait until the page shows an answer or an error.
const settled = (page) => page.waitForFunction(() =>
	!document.getElementById('result').hidden ||
	!document.getElementById('error').hidden);

// Upload file through the file input and wait until the page shows an
// answer or an error; returns the request the page made.
async function upload(page, file) {
	const req = page.waitForRequest(
	    (r) => r.method() === 'POST' && /\/verify$/.test(r.url()),
	    { timeout: 10000 });
	await page.setInputFiles('#envelope-file', file);
	const r = await req;
	await settled(page);
	return r;
}

async function main() {
	const browser = await chromium.launch({
		executablePath: env('CHROMIUM', '/usr/bin/chromium'),
		args: ['--no-sandbox', '--use-fake-device-for-media-stream',
			'--use-fake-ui-for-media-stream'],
	});
	const problems = [];
	try {
		// A phone: the page must fit without sideways scrolling.
		const context = await browser.newContext({
			viewport: { width: 390, height: 844 },
			deviceScaleFactor: 2,
			isMobile: true,
			hasTouch: true,
			locale: 'en-US',
		});
		const page = await context.newPage();
		page.on('pageerror', (e) => problems.push(`page error: ${e}`));
		page.on('console', (m) => {
			// The API's 4xx answers the test asks for are not problems.
			if (m.type() === 'error' &&
			    !/\/v1\/(verify|codes\/redeem)$/.test(m.location().url))
				problems.push(`console: ${m.text()} ` +
				    `(${m.location().url})`);
		});

		const resp = await page.goto(`${BASE}/verify`);
		eq('GET /verify answers 200 in the browser', resp.status(), 200);
		await page.waitForSelector('body[data-ready="1"]',
		    { timeout: 10000 });
		pass('the page script ran under its CSP');
		eq('English for an en-US browser',
		    await page.textContent('h1'), 'Licence verification');
		truthy('the language toggle offers Chinese',
		    (await page.textContent('#lang-toggle')) === '中文');
		truthy('the viewport meta is set',
		    (await page.getAttribute('meta[name="viewport"]', 'content'))
			?.includes('width=device-width'));

		// --- a valid envelope, no token: the public POST /verify ------
		let r = await upload(page, env('VALID'));
		eq('no token: the page posts to the public /verify',
		    new URL(r.url()).pathname, '/verify');
		eq('no token: no Authorization header',
		    r.headers()['authorization'] ?? null, null);
		let s = await shown(page);
		eq('valid envelope: no error shown', s.error, null);
		eq('valid envelope: result shown as valid', s.overall, 'valid');
		eq('valid envelope: overall text', s.overallText, 'Valid');
		eq('valid envelope: the seven checks in order',
		    s.checks.map((c) => c.name), CHECK_NAMES);
		// timestamp: pass once seals carry one (issue #7).
		eq('valid envelope: per-check results',
		    s.checks.map((c) => c.result).slice(0, 6),
		    ['pass', 'pass', 'pass', 'pass', 'pass', 'pass']);
		truthy('valid envelope: timestamp pass or not applicable',
		    ['pass', 'not_applicable'].includes(s.checks[6]?.result),
		    s.checks[6]?.result);
		eq('valid envelope: English check labels',
		    s.checks.map((c) => c.label)[1], 'Seal signature');
		truthy('valid envelope: every check has a reason',
		    s.checks.every((c) => c.reason.length > 0),
		    JSON.stringify(s.checks));
		eq('valid envelope: the licence id is shown', s.licence,
		    env('LICENCE'));
		truthy('valid envelope: the signed report can be downloaded',
		    /^R-[0-9a-f]{32}\.json$/.test(s.report ?? ''), s.report);
		truthy('valid envelope: the document details are shown',
		    await page.isVisible('#details'));
		const width = await page.evaluate(() =>
			[document.documentElement.scrollWidth, window.innerWidth]);
		truthy('phone width: no sideways scrolling',
		    width[0] <= width[1], `scrollWidth ${width[0]} > ${width[1]}`);
		await page.screenshot({ path: `${SHOTS}/verify-valid.png`,
			fullPage: true });

		// --- the tampered envelope ------------------------------------
		await upload(page, env('TAMPERED'));
		await page.waitForFunction(() => document.getElementById(
		    'result-overall').getAttribute('data-result') !== 'valid');
		s = await shown(page);
		eq('tampered envelope: result shown as invalid', s.overall,
		    'invalid');
		eq('tampered envelope: overall text', s.overallText, 'Invalid');
		eq('tampered envelope: seal_signature fails',
		    s.checks.find((c) => c.name === 'seal_signature')?.result,
		    'fail');
		eq('tampered envelope: document_format still passes',
		    s.checks.find((c) => c.name === 'document_format')?.result,
		    'pass');
		await page.screenshot({ path: `${SHOTS}/verify-tampered.png`,
			fullPage: true });

		// --- Chinese ---------------------------------------------------
		await page.click('#lang-toggle');
		s = await shown(page);
		eq('Chinese: the heading', await page.textContent('h1'),
		    '电子证照验证');
		eq('Chinese: html lang', await page.getAttribute('html', 'lang'),
		    'zh-CN');
		eq('Chinese: the overall result', s.overallText, '无效');
		eq('Chinese: check labels', s.checks.map((c) => c.label),
		    ['文件格式', '电子印章签名', '证书链', '印章证书状态',
			'证照状态', '有效期', '时间戳']);
		eq('Chinese: the failed check reads 未通过',
		    s.checks[1].resultText, '未通过');
		eq('Chinese: the toggle offers English',
		    await page.textContent('#lang-toggle'), 'English');
		await page.screenshot({ path: `${SHOTS}/verify-tampered-zh.png`,
			fullPage: true });
		await page.reload();
		await page.waitForSelector('body[data-ready="1"]');
		eq('Chinese: the choice survives a reload',
		    await page.textContent('h1'), '电子证照验证');

		// --- not JSON ---------------------------------------------------
		await page.setInputFiles('#envelope-file', env('NOTJSON'));
		await page.waitForSelector('#error:not([hidden])');
		s = await shown(page);
		truthy('a file that is not JSON: an error, no result',
		    !s.visible && /JSON/.test(s.error ?? ''), JSON.stringify(s));

		// --- with a verifier token: POST /v1/verify ---------------------
		await page.fill('#token', env('VERIFIER'));
		r = await upload(page, env('VALID'));
		eq('with a token: the page posts to /v1/verify',
		    new URL(r.url()).pathname, '/v1/verify');
		truthy('with a token: sent as a bearer token',
		    r.headers()['authorization'] === `Bearer ${env('VERIFIER')}`);
		s = await shown(page);
		eq('with a token: valid (有效)', [s.overall, s.overallText],
		    ['valid', '有效']);
		await page.fill('#token', 'cs_not-a-token');
		await upload(page, env('VALID'));
		await page.waitForSelector('#error:not([hidden])');
		s = await shown(page);
		truthy('an unknown token: HTTP 401 shown, no result',
		    !s.visible && /401/.test(s.error ?? ''), JSON.stringify(s));

		// --- a 免证办 code ----------------------------------------------
		if (process.env.CODE) {
			await page.click('#lang-toggle'); // back to English
			await page.fill('#code', env('CODE'));
			await page.fill('#token', env('VERIFIER'));
			const rq = page.waitForRequest((q) =>
				q.url().endsWith('/v1/codes/redeem'));
			await page.click('#redeem');
			const q = await rq;
			eq('code: posted as {"code"} to /v1/codes/redeem',
			    Object.keys(JSON.parse(q.postData() ?? '{}')), ['code']);
			await settled(page);
			s = await shown(page);
			eq('code: no error', s.error, null);
			eq('code: result valid', s.overall, 'valid');
			eq('code: the seven checks',
			    s.checks.map((c) => c.name), CHECK_NAMES);
			eq('code: the licence', s.licence, env('LICENCE'));
			eq('code: source shown as a code', s.source, 'code');
			eq('code: the purpose the holder gave',
			    await page.textContent('#result-purpose'),
			    'web page test');
			await page.screenshot({ path: `${SHOTS}/verify-code.png`,
				fullPage: true });
			await page.fill('#code', env('BADCODE'));
			await page.click('#redeem');
			await page.waitForSelector('#error:not([hidden])');
			s = await shown(page);
			truthy('a used code: 404 shown, no result',
			    !s.visible && /404/.test(s.error ?? ''),
			    JSON.stringify(s));
		}

		// --- the QR scanner ---------------------------------------------
		// Desktop chromium has no BarcodeDetector: a stand-in reads the
		// camera (chromium's fake device) and "finds" the long form.
		if (process.env.QRCODE) {
			const cam = await browser.newContext({ locale: 'en-US',
				permissions: ['camera'] });
			await cam.addInitScript((code) => {
				window.BarcodeDetector = class {
					constructor(o) {
						this.formats = o.formats;
					}
					async detect(video) {
						if (!(video instanceof HTMLVideoElement) ||
						    !video.srcObject ||
						    !this.formats.includes('qr_code'))
							throw new Error('not the camera');
						return [{ rawValue: code }];
					}
				};
			}, env('QRCODE'));
			const cpage = await cam.newPage();
			cpage.on('pageerror', (e) =>
				problems.push(`page error (scanner): ${e}`));
			await cpage.goto(`${BASE}/verify`);
			await cpage.waitForSelector('body[data-ready="1"]');
			truthy('scanner: offered where BarcodeDetector exists',
			    await cpage.isVisible('#scan'));
			await cpage.fill('#token', env('VERIFIER'));
			const rq = cpage.waitForRequest((q) =>
				q.url().endsWith('/v1/codes/redeem'));
			await cpage.click('#scan');
			const q = await rq;
			eq('scanner: the code read is redeemed',
			    JSON.parse(q.postData() ?? '{}').code, env('QRCODE'));
			await settled(cpage);
			s = await shown(cpage);
			eq('scanner: result valid', [s.error, s.overall],
			    [null, 'valid']);
			truthy('scanner: the camera is released',
			    await cpage.isHidden('#scanner'));
			await cam.close();
		}

		// --- a desktop window -------------------------------------------
		const wide = await browser.newContext({
			viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
		const wpage = await wide.newPage();
		await wpage.goto(`${BASE}/verify`);
		await wpage.waitForSelector('body[data-ready="1"]');
		eq('Chinese for a zh-CN browser',
		    await wpage.textContent('h1'), '电子证照验证');
		await upload(wpage, env('VALID'));
		s = await shown(wpage);
		eq('desktop: valid (有效)', [s.overall, s.overallText],
		    ['valid', '有效']);
		await wpage.screenshot({ path: `${SHOTS}/verify-desktop-zh.png`,
			fullPage: true });

		eq('no script errors or CSP violations', problems, []);
	} finally {
		await browser.close();
	}
}

main().catch((e) => {
	console.log(`FAIL\tthe browser test ran to its end\t${clean(e.stack ?? e)}`);
	process.exit(1);
});
