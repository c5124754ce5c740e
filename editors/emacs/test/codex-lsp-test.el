;;; codex-lsp-test.el --- eglot + codex-lsp end to end  -*- lexical-binding: t; -*-

;; Run by test/run.sh, in two Emacs processes:
;;   CODEX_TEST_HELPER=0 emacs --batch -l ert -l codex-lsp-test.el \
;;     --eval '(ert-run-tests-batch-and-exit "^codex-lsp-test-plain-")'     ; plain eglot
;;   emacs --batch -l ert -l codex-lsp-test.el \
;;     --eval '(ert-run-tests-batch-and-exit (quote (not "^codex-lsp-test-plain-")))'
;;                                                    ; with editors/emacs/codex-lsp.el
;; Environment (run.sh sets it):
;;   CODEX_LSP_BIN      the server binary
;;   CODEX_TEST_FAKE    editors/testing/fake_responses.py
;;   CODEX_TEST_EL      editors/emacs (where codex-lsp.el is)
;;   CODEX_TEST_TMP     a directory for the workspaces, replies and logs
;;   CODEX_TEST_HELPER  "0": do not load codex-lsp.el
;;   CODEX_TEST_TIMEOUT bound of every wait in seconds (default 15)
;;   CODEX_LSP_API_KEY, HOME, XDG_*_HOME: inherited by the server
;;
;; Each test has its own workspace (a .git marker, src/calc.py), its own fake model
;; service (scripted replies, a request log) and its own codex-lsp process, started the
;; way a user starts it: `M-x eglot' with an `eglot-server-programs' entry carrying
;; `:initializationOptions'.  What the user sees is read from *Messages*; an error that
;; a command signals is shown there as the command loop would show it.

;;; Code:

(require 'ert)
(require 'cl-lib)
(require 'eglot)
(require 'json)
(require 'subr-x)

(defconst codex-test-bin (or (getenv "CODEX_LSP_BIN") (error "Set CODEX_LSP_BIN")))
(defconst codex-test-fake (or (getenv "CODEX_TEST_FAKE") (error "Set CODEX_TEST_FAKE")))
(defconst codex-test-tmp (or (getenv "CODEX_TEST_TMP") temporary-file-directory))
(defconst codex-test-helper (not (equal (getenv "CODEX_TEST_HELPER") "0")))
(defconst codex-test-timeout (string-to-number (or (getenv "CODEX_TEST_TIMEOUT") "15")))

(when codex-test-helper
  (add-to-list 'load-path (or (getenv "CODEX_TEST_EL") (error "Set CODEX_TEST_EL")))
  (require 'codex-lsp))

;; As editors/emacs/README.md says to set them.
(setq eglot-confirm-server-initiated-edits nil)
(add-to-list 'eglot-server-programs
             `((python-mode rust-mode) . (,codex-test-bin
                              :initializationOptions (:model "test-model"
                                                      :reasoningEffort "low"
                                                      :contextLines 5
                                                      :stream t
                                                      :exclude ["*.sql"]
                                                      :actions [(:id "hints" :title "Add type hints"
                                                                 :instruction "Add type hints.")]))))
;; Test-only: connect synchronously, no backups, no autosave, no prompts.
(setq eglot-sync-connect codex-test-timeout
      make-backup-files nil
      auto-save-default nil
      create-lockfiles nil
      python-indent-guess-indent-offset nil)

(defconst codex-test-original "def add(a, b):
    s = a + b
    return s


def mul(a, b):
    p = a * b
    return p
")

;;; Helpers

(defun codex-test--wait (pred &optional secs)
  "Run the event loop until PRED is non-nil or SECS (default the timeout) pass.
Returns PRED's last value."
  (let ((deadline (+ (float-time) (or secs codex-test-timeout))) v)
    (while (and (not (setq v (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    v))

(defun codex-test--sleep (secs)
  "Let SECS of events happen (a late duplicate message, say)."
  (codex-test--wait #'ignore secs))

(defun codex-test--write (file text)
  (make-directory (file-name-directory file) t)
  (let ((coding-system-for-write 'utf-8-unix))
    (write-region text nil file nil 'silent)))

(defun codex-test--read (file)
  (with-temp-buffer
    (let ((coding-system-for-read 'utf-8-unix))
      (insert-file-contents file))
    (buffer-string)))

(cl-defstruct (codex-test-session (:conc-name codex-test-s-))
  dir fake log buffer server)

(defvar codex-test--results nil "Answers of Codex commands: (COMMAND RESULT ERROR), newest first.")
(when codex-test-helper
  (add-hook 'codex-lsp-command-functions
            (lambda (command result error) (push (list command result error) codex-test--results))))

(defun codex-test--start (replies files)
  "Workspace, fake service with REPLIES (a list of plists), FILES ((PATH . TEXT) ...),
then `M-x eglot' on src/calc.py."
  (let* ((dir (file-name-as-directory (make-temp-file (expand-file-name "ws-" codex-test-tmp) t)))
         (s (make-codex-test-session :dir dir :log (expand-file-name "requests.jsonl" dir)))
         (port-file (expand-file-name "port" dir))
         (replies-file (expand-file-name "replies.json" dir)))
    (make-directory (expand-file-name ".git" dir))
    (codex-test--write (expand-file-name "src/calc.py" dir) codex-test-original)
    (pcase-dolist (`(,path . ,text) files)
      (codex-test--write (expand-file-name path dir) text))
    (codex-test--write replies-file (json-encode (vconcat replies)))
    (setf (codex-test-s-fake s)
          (make-process :name "fake-responses" :noquery t
                        :buffer (get-buffer-create (format " *fake %s*" dir))
                        :command (list "python3" codex-test-fake "--port-file" port-file
                                       "--replies" replies-file "--log" (codex-test-s-log s))))
    (unless (codex-test--wait (lambda () (and (file-exists-p port-file)
                                              (> (file-attribute-size (file-attributes port-file)) 0))))
      (error "The fake model service did not start"))
    ;; for this session's servers (M-x eglot-reconnect too); run.sh's default is a dead port
    (setenv "CODEX_LSP_BASE_URL" (format "http://127.0.0.1:%s/v1"
                                         (string-trim (codex-test--read port-file))))
    (setenv "CODEX_LSP_LOG_FILE" (expand-file-name "server.log" dir))
    (setenv "CODEX_LSP_LOG" "debug")
    (setf (codex-test-s-buffer s) (find-file-noselect (expand-file-name "src/calc.py" dir)))
    (with-current-buffer (codex-test-s-buffer s)
      (call-interactively #'eglot)
      (setf (codex-test-s-server s) (eglot-current-server)))
    (unless (codex-test-s-server s)
      (error "Eglot did not connect"))
    s))

(defun codex-test--stop (s)
  (let ((server (codex-test-s-server s)))
    (when (and server (jsonrpc-running-p server))
      (ignore-errors (eglot-shutdown server))))
  (dolist (b (buffer-list))
    (when (string-prefix-p (codex-test-s-dir s) (or (buffer-file-name b) ""))
      (with-current-buffer b (set-buffer-modified-p nil))
      (let ((kill-buffer-query-functions nil)) (kill-buffer b))))
  (when (process-live-p (codex-test-s-fake s))
    (delete-process (codex-test-s-fake s)))
  (unless (getenv "CODEX_TEST_KEEP")
    (delete-directory (codex-test-s-dir s) t)))

(defmacro codex-test-with-session (spec &rest body)
  "Run BODY with `s' bound to a session; SPEC is (REPLIES [FILES])."
  (declare (indent 1))
  `(let ((s (codex-test--start ,(car spec) ,(cadr spec))))
     (unwind-protect
         (with-current-buffer (codex-test-s-buffer s) ,@body)
       (codex-test--stop s))))

(defun codex-test--requests (s)
  "The requests the session's fake received, as plists."
  (when (file-exists-p (codex-test-s-log s))
    (mapcar (lambda (line) (json-parse-string line :object-type 'plist :null-object nil
                                              :false-object nil))
            (split-string (codex-test--read (codex-test-s-log s)) "\n" t))))

(defun codex-test--body (req key) (plist-get (plist-get req :body) key))

(defun codex-test--messages-mark ()
  (with-current-buffer (messages-buffer) (point-max)))

(defun codex-test--messages-since (mark)
  "The lines shown in *Messages* since MARK."
  (with-current-buffer (messages-buffer)
    (split-string (buffer-substring-no-properties (min mark (point-max)) (point-max)) "\n" t)))

(defun codex-test--count (needle lines)
  (cl-count-if (lambda (l) (string-search needle l)) lines))

(defun codex-test--as-command (fn &rest args)
  "Call FN with ARGS as the command loop would: an error it signals is shown."
  (condition-case err
      (apply fn args)
    (error (message "%s" (error-message-string err)) nil)))

(defun codex-test--line-bounds (from to)
  "Positions of the start of line FROM and of the line after TO (1-based)."
  (save-excursion
    (goto-char (point-min))
    (forward-line (1- from))
    (let ((beg (point)))
      (forward-line (1+ (- to from)))
      (list beg (point)))))

(defvar codex-test--menu nil "The titles of the last code-action menu.")

(defun codex-test--code-action (title from to)
  "Pick TITLE in `eglot-code-actions' on lines FROM..TO, as a user does."
  (setq codex-test--menu nil)
  (pcase-let ((`(,beg ,end) (codex-test--line-bounds from to))
              (last-nonmenu-event ?a)) ; a key, not a mouse click: the menu is completing-read
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt coll &rest _)
                 (setq codex-test--menu (mapcar #'car coll))
                 title)))
      (codex-test--as-command #'eglot-code-actions beg end nil t))))

(defun codex-test--answer (n)
  "Wait for the answer of the Codex command that brings the count to N; return it."
  (if (codex-test--wait (lambda () (>= (length codex-test--results) n)))
      (car codex-test--results)
    (ert-fail (format "no answer from the server (expected %d answers, got %d)"
                      n (length codex-test--results)))))

(defun codex-test--stderr (s)
  "What the server wrote on stderr (eglot keeps it in a buffer)."
  (let* ((name (jsonrpc-name (codex-test-s-server s)))
         (b (or (get-buffer (format " *%s stderr*" name)) ; jsonrpc 1.0.14 (Emacs 28)
                (get-buffer (format "*%s stderr*" name)))))
    (unless b (ert-fail (format "no stderr buffer for %s" name)))
    (with-current-buffer b (buffer-string))))

(defun codex-test--replace-lines (text from to new)
  "TEXT with lines FROM..TO (1-based) replaced by NEW."
  (let ((lines (split-string text "\n")))
    (string-join (append (cl-subseq lines 0 (1- from)) (split-string new "\n")
                         (nthcdr to lines))
                 "\n")))

;;; Plain eglot (no codex-lsp.el)

(ert-deftest codex-lsp-test-plain-code-action ()
  "Plain eglot: the menu offers the Codex actions; Refactor on lines 2-3 applies the model's code."
  (codex-test-with-session ('((:code "    return a + b\n")))
    (let ((want (codex-test--replace-lines codex-test-original 2 3 "    return a + b")))
      (codex-test--code-action "Codex: Refactor" 2 3)
      (should (member "Codex: Refactor" codex-test--menu))
      (should (member "Codex: Explain" codex-test--menu))
      (should (codex-test--wait (lambda () (equal (buffer-string) want))))
      (save-buffer)
      (should (equal (codex-test--read buffer-file-name) want))
      (should (equal (codex-test--body (car (codex-test--requests s)) :model) "test-model")))))

;;; With codex-lsp.el

(ert-deftest codex-lsp-test-attach ()
  "The server starts, eglot attaches, the Codex commands are advertised, stderr is quiet."
  (codex-test-with-session (nil)
    (should (eglot-managed-p))
    (should (jsonrpc-running-p (codex-test-s-server s)))
    (let ((commands (append (eglot--server-capable :executeCommandProvider :commands) nil)))
      (dolist (c '("codex.runAction" "codex.ask" "codex.explain" "codex.resetChain" "codex.chainInfo"))
        (should (member c commands))))
    (should (equal (plist-get (eglot--server-info (codex-test-s-server s)) :name) "codex-lsp"))
    (codex-test--sleep 0.3)
    (should (equal (codex-test--stderr s) ""))))

(ert-deftest codex-lsp-test-code-action ()
  "A code action on a selection is offered and, chosen, applies the model's code once;
the settings of `:initializationOptions' reach the request."
  (codex-test-with-session ('((:code "    return a + b\n")))
    (let ((want (codex-test--replace-lines codex-test-original 2 3 "    return a + b"))
          (n (1+ (length codex-test--results)))
          (mark (codex-test--messages-mark)))
      (codex-test--code-action "Codex: Refactor" 2 3)
      (should (equal codex-test--menu
                     '("Codex: Refactor" "Codex: Document" "Codex: Write Tests" "Codex: Explain"
                       "Codex: Add type hints")))
      (pcase-let ((`(,command ,result ,error) (codex-test--answer n)))
        (should (eq command 'codex.runAction))
        (should-not error)
        (should (eq (plist-get result :applied) t)))
      (should (equal (buffer-string) want))
      (should (= 1 (codex-test--count "Edit successful" (codex-test--messages-since mark))))
      (save-buffer)
      (should (equal (codex-test--read buffer-file-name) want))
      ;; one change: one undo takes it back
      (undo-boundary)
      (let ((last-command nil)) (undo))
      (should (equal (buffer-string) codex-test-original))
      (let ((reqs (codex-test--requests s)))
        (should (= (length reqs) 1))
        (should (eq (codex-test--body (car reqs) :stream) t))
        (should (equal (codex-test--body (car reqs) :model) "test-model"))
        (should (equal (plist-get (codex-test--body (car reqs) :reasoning) :effort) "low"))
        (should (string-search "s = a + b" (json-encode (codex-test--body (car reqs) :input))))))))

(ert-deftest codex-lsp-test-dir-locals-settings ()
  "Settings in .dir-locals.el (`eglot-workspace-configuration', section `codex') override
`:initializationOptions'."
  (codex-test-with-session ('((:code "    return a + b\n"))
                            '((".dir-locals.el" . "((nil . ((eglot-workspace-configuration . (:codex (:model \"dir-model\" :reasoningEffort \"high\")))))))\n")))
    (let ((n (1+ (length codex-test--results))))
      (codex-test--code-action "Codex: Refactor" 2 3)
      (pcase-let ((`(,_ ,_ ,error) (codex-test--answer n)))
        (should-not error)))
    (let ((req (car (codex-test--requests s))))
      (should (equal (codex-test--body req :model) "dir-model"))
      (should (equal (plist-get (codex-test--body req :reasoning) :effort) "high")))
    ;; edited: taken at the next M-x eglot-reconnect
    (codex-test--write (expand-file-name ".dir-locals.el" (codex-test-s-dir s))
                       "((nil . ((eglot-workspace-configuration . (:codex (:model \"dir-model-2\"))))))\n")
    (eglot-reconnect (codex-test-s-server s))
    (setf (codex-test-s-server s) (eglot-current-server))
    (let ((n (1+ (length codex-test--results))))
      (codex-test--code-action "Codex: Refactor" 2 2)
      (codex-test--answer n))
    (should (equal (codex-test--body (cadr (codex-test--requests s)) :model) "dir-model-2"))))

(ert-deftest codex-lsp-test-protected-file ()
  "eglot cannot be asked for consent: in a protected file (setup.py) the action says so in
its title, and choosing it is the consent."
  (codex-test-with-session ('((:code "VERSION = '2.0'\n")) '(("setup.py" . "VERSION = '1.0'\n")))
    (with-current-buffer (find-file-noselect (expand-file-name "setup.py" (codex-test-s-dir s)))
      (should (codex-test--wait (lambda () (eglot-managed-p))))
      (let ((n (1+ (length codex-test--results))))
        (codex-test--code-action "Codex: Refactor (edits a protected file)" 1 1)
        (should (member "Codex: Refactor (edits a protected file)" codex-test--menu))
        (should-not (member "Codex: Refactor" codex-test--menu))
        (pcase-let ((`(,_ ,result ,error) (codex-test--answer n)))
          (should-not error)
          (should (eq (plist-get result :applied) t))))
      (should (equal (buffer-string) "VERSION = '2.0'\n")))))

(ert-deftest codex-lsp-test-declined-edit ()
  "With `eglot-confirm-server-initiated-edits' at its default, eglot asks; a \"no\" leaves the
buffer as it was and the chain where it was."
  (codex-test-with-session ('((:code "    return a + b\n")))
    (let ((n (1+ (length codex-test--results)))
          (eglot-confirm-server-initiated-edits 'confirm)
          asked)
      (cl-letf (((symbol-function 'y-or-n-p) (lambda (prompt) (setq asked prompt) nil)))
        (codex-test--code-action "Codex: Refactor" 2 3)
        (pcase-let ((`(,_ ,result ,error) (codex-test--answer n)))
          (should-not error)
          (should (eq (plist-get result :applied) :json-false))))
      (should (string-search "Server wants to edit" asked))
      (should (equal (buffer-string) codex-test-original))
      (codex-lsp-chain)
      (pcase-let ((`(,_ ,result ,_) (codex-test--answer (1+ n))))
        (should-not result)))))

(ert-deftest codex-lsp-test-error-once ()
  "A request the model service rejects (unknown model) is shown once; nothing changes."
  (codex-test-with-session ('((:status 400 :message "The model `nope` does not exist."
                               :errorCode "model_not_found")))
    (let ((n (1+ (length codex-test--results)))
          (mark (codex-test--messages-mark)))
      (codex-test--code-action "Codex: Document" 2 3)
      (pcase-let ((`(,_ ,_ ,error) (codex-test--answer n)))
        (should (equal (codex-lsp-error-kind error) "gateway")))
      (codex-test--sleep 0.4)
      (let ((shown (codex-test--messages-since mark)))
        (should (= 1 (codex-test--count "does not exist" shown)))
        (should (= 0 (codex-test--count "request id=" shown))))
      (should (equal (buffer-string) codex-test-original)))))

(ert-deftest codex-lsp-test-refused-once ()
  "An action in a file `.codexignore' excludes is refused before any request, shown once."
  (codex-test-with-session (nil '(("src/secret.py" . "TOKEN = 'abc'\n") (".codexignore" . "secret.py\n")))
    (with-current-buffer (find-file-noselect (expand-file-name "src/secret.py" (codex-test-s-dir s)))
      (should (codex-test--wait (lambda () (eglot-managed-p))))
      (let ((n (1+ (length codex-test--results)))
            (mark (codex-test--messages-mark)))
        (codex-test--as-command #'codex-lsp-ask (point-min) (point-max) "rotate it")
        (pcase-let ((`(,_ ,_ ,error) (codex-test--answer n)))
          (should (equal (codex-lsp-error-kind error) "refused")))
        (codex-test--sleep 0.4)
        (let ((shown (codex-test--messages-since mark)))
          (should (= 1 (codex-test--count ".codexignore" shown))))
        (should (equal (buffer-string) "TOKEN = 'abc'\n"))))
    (should (null (codex-test--requests s)))))

(ert-deftest codex-lsp-test-didsave-quiet ()
  "eglot's didSave (sent with the text) is accepted quietly; the server stays in sync."
  (codex-test-with-session ('((:code "    return a + b\n")))
    (goto-char (point-min))
    (insert "# saved edit\n")
    (let ((mark (codex-test--messages-mark)))
      (save-buffer)
      (codex-test--sleep 0.5)
      (let ((shown (codex-test--messages-since mark)))
        (should-not (cl-find-if (lambda (l) (string-match-p "eglot\\|codex\\|rror" l)) shown)))
      (should (equal (codex-test--stderr s) ""))
      (should (jsonrpc-running-p (codex-test-s-server s)))
      ;; eglot did send it, with the text
      (with-current-buffer (jsonrpc-events-buffer (codex-test-s-server s))
        (goto-char (point-min))
        (should (search-forward "textDocument/didSave" nil t))
        (should (search-forward "# saved edit" nil t))))
    ;; the server still has the buffer's text: an action after the save sees the new line
    (let ((n (1+ (length codex-test--results))))
      (codex-test--code-action "Codex: Refactor" 3 4)
      (pcase-let ((`(,_ ,result ,error) (codex-test--answer n)))
        (should-not error)
        (should (eq (plist-get result :applied) t))))
    (should (string-search "# saved edit" (json-encode (codex-test--body (car (codex-test--requests s)) :input))))
    (should (equal (buffer-string)
                   (concat "# saved edit\n"
                           (codex-test--replace-lines codex-test-original 2 3 "    return a + b"))))))

(ert-deftest codex-lsp-test-ask-chain-reset ()
  "`codex-lsp-ask' edits and continues the file's chain; `codex-lsp-reset-chain' ends it."
  (codex-test-with-session ('((:code "    return a + b\n") (:code "    return a * b\n")
                              (:code "    return b * a\n")))
    (let ((n (length codex-test--results))
          (mark (codex-test--messages-mark)))
      (apply #'codex-lsp-ask (append (codex-test--line-bounds 2 3) '("make it shorter")))
      (codex-test--answer (cl-incf n))
      (apply #'codex-lsp-ask (append (codex-test--line-bounds 6 7) '("make it shorter")))
      (codex-test--answer (cl-incf n))
      (should (equal (buffer-string) "def add(a, b):
    return a + b


def mul(a, b):
    return a * b
"))
      (codex-lsp-chain)
      (codex-test--answer (cl-incf n))
      (codex-lsp-reset-chain)
      (codex-test--answer (cl-incf n))
      (codex-lsp-chain)
      (codex-test--answer (cl-incf n))
      (apply #'codex-lsp-ask (append (codex-test--line-bounds 6 6) '("swap them")))
      (pcase-let ((`(,_ ,result ,error) (codex-test--answer (cl-incf n))))
        (should-not error)
        (should (eq (plist-get result :applied) t)))
      (should (string-search "return b * a" (buffer-string)))
      (let ((shown (codex-test--messages-since mark)))
        (should (= 1 (codex-test--count "codex: chain resp_2 (2 turns)" shown)))
        (should (= 1 (codex-test--count "codex: conversation chain reset" shown)))
        (should (= 1 (codex-test--count "codex: no conversation chain for this file" shown))))
      (let ((reqs (codex-test--requests s)))
        (should (equal (mapcar (lambda (r) (codex-test--body r :previous_response_id)) reqs)
                       '(nil "resp_1" nil)))
        (should (string-search "make it shorter" (json-encode (codex-test--body (car reqs) :input))))))))

(ert-deftest codex-lsp-test-explain-once ()
  "An explanation (`codex-lsp-explain', or the Explain code action) shows once; no edit."
  (codex-test-with-session ('((:text "It adds two numbers.") (:text "It returns the sum.")))
    (let ((n (length codex-test--results))
          (mark (codex-test--messages-mark)))
      (apply #'codex-lsp-explain (codex-test--line-bounds 1 3))
      (pcase-let ((`(,command ,result ,error) (codex-test--answer (cl-incf n))))
        (should (eq command 'codex.explain))
        (should-not error)
        (should (equal (plist-get result :text) "It adds two numbers.")))
      (codex-test--code-action "Codex: Explain" 2 2)
      (pcase-let ((`(,_ ,result ,error) (codex-test--answer (cl-incf n))))
        (should-not error)
        (should (equal (plist-get result :text) "It returns the sum.")))
      (codex-test--sleep 0.4)
      (let ((shown (codex-test--messages-since mark)))
        (should (= 1 (codex-test--count "It adds two numbers." shown)))
        (should (= 1 (codex-test--count "It returns the sum." shown))))
      (should (equal (buffer-string) codex-test-original))
      (should-not (buffer-modified-p)))))

(ert-deftest codex-lsp-test-cancel ()
  "A slow action (asked, or from the menu) is cancelled through its progress token:
the server answers `cancelled', said once, and nothing is applied."
  (codex-test-with-session ('((:code "    return 0\n" :delay 8) (:code "    return 1\n" :delay 8)))
    (let ((n (length codex-test--results)))
      (dolist (start (list (lambda () (apply #'codex-lsp-ask (append (codex-test--line-bounds 2 3)
                                                                     '("return zero"))))
                           (lambda () (codex-test--code-action "Codex: Refactor" 2 3))))
        (let ((sent (length (codex-test--requests s)))
              (mark (codex-test--messages-mark)))
          (funcall start)
          (should (string-search "M-x codex-lsp-cancel" (car (last (codex-test--messages-since mark)))))
          (should (codex-test--wait (lambda () (> (length (codex-test--requests s)) sent))))
          (let ((t0 (float-time)))
            (should (= 1 (codex-lsp-cancel)))
            (pcase-let ((`(,_ ,_ ,error) (codex-test--answer (cl-incf n))))
              (should (equal (codex-lsp-error-kind error) "cancelled"))
              (should (equal (plist-get error :code) -32800)))
            (should (< (- (float-time) t0) 4)))
          (codex-test--sleep 0.3)
          (should (= 1 (codex-test--count "codex: cancelled" (codex-test--messages-since mark))))
          (should (equal (buffer-string) codex-test-original))))
      (should (= 0 (codex-lsp-cancel)))
      ;; the server's own record: cancelled through the progress token, not $/cancelRequest
      (with-temp-buffer
        (insert-file-contents (expand-file-name "server.log" (codex-test-s-dir s)))
        (should (= 2 (how-many "cancelled job from its progress" (point-min) (point-max))))))))

(provide 'codex-lsp-test)
;;; codex-lsp-test.el ends here
