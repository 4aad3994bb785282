import { ChatKit, useChatKit } from "@openai/chatkit-react";

// Where docsdesk runs; the page loads <script src="https://assistant.example.com/embed.js?v=1.1.1">.
const CHATKIT_URL = "https://assistant.example.com/chatkit";

// What /embed.js defines (window.docsdesk); see docs/embedding.md for every option.
declare global {
  interface Window {
    docsdesk: {
      createFetch(options: { url: string; storageKey?: string }): typeof fetch;
    };
  }
}

// One fetch for the page, made on first use: it keeps the reader's session in localStorage
// and adds the page they are reading to every request.
let docsdeskFetch: typeof fetch | undefined;
const chatkitFetch: typeof fetch = (input, init) => {
  docsdeskFetch ??= window.docsdesk.createFetch({ url: CHATKIT_URL });
  return docsdeskFetch(input, init);
};

export function DocsAssistant() {
  const { control } = useChatKit({
    api: {
      url: CHATKIT_URL,
      // The key OpenAI gives your domain when you add it to the allowlist
      // (platform.openai.com/settings/organization/security/domain-allowlist).
      domainKey: "your-domain-key",
      fetch: chatkitFetch,
    },
  });
  return <ChatKit control={control} style={{ display: "block", height: 600, width: 360 }} />;
}
